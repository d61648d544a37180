"""Decoder-only transformer (GPT): pre-LN blocks, SDPA attention, learned positions, tied head.

No training code here (that is :mod:`scalelaw.train.loop`). The parameter count is exactly
:func:`scalelaw.model_size.count_params`: per block two LayerNorms (weight only unless
``bias=True``), attention ``4 d^2`` (fused q/k/v ``3 d^2`` + output ``d^2``) and MLP
``2 d d_ff``; one final LayerNorm; embeddings (token + position) are not in N, and the output
head reuses the token embedding (Press & Wolf 2017), so it adds nothing.

Examples
--------
>>> import torch
>>> from scalelaw.train.config import ModelConfig
>>> model = GPT(ModelConfig(n_layer=2, d_model=64, n_head=2, seq_len=32))
>>> model.num_params()
98624
>>> idx = torch.randint(0, 256, (2, 32))
>>> model(idx).shape, model(idx, idx).ndim
(torch.Size([2, 32, 256]), 0)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scalelaw.train.config import ModelConfig

__all__ = ["GPT", "Block", "SelfAttention", "MLP", "init_weights"]


class SelfAttention(nn.Module):
    """Multi-head self-attention through ``F.scaled_dot_product_attention``.

    SDPA picks the flash kernel on CUDA under bf16 (no T x T matrix is stored), the
    memory-efficient one when a padding mask is given, and plain maths on the CPU.
    """

    def __init__(self, cfg: ModelConfig, causal: bool = True):
        super().__init__()
        self.n_head, self.causal = cfg.n_head, causal
        self.c_attn = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.bias)  # q, k, v in one matmul
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, T, d); ``key_mask`` (B, T) True where a key may be attended to."""
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in self.c_attn(x).split(C, dim=2))
        mask = None if key_mask is None else key_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, cfg.ff, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.ff, cfg.d_model, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    """Pre-LN block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))`` (GPT-2; stable without warm-up
    tricks, Xiong et al. 2020)."""

    def __init__(self, cfg: ModelConfig, causal: bool = True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.attn = SelfAttention(cfg, causal=causal)
        self.ln_2 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), key_mask)
        return x + self.mlp(self.ln_2(x))


def init_weights(module: nn.Module, n_residual: int) -> None:
    """GPT-2 initialisation: N(0, 0.02) everywhere, zero biases, LayerNorm weight 1, and the
    projections that write into the residual stream scaled by ``1/sqrt(n_residual)`` so the
    stream's variance does not grow with depth (Radford et al. 2019)."""
    for name, p in module.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(p)
        elif p.dim() == 1:  # LayerNorm weights
            nn.init.ones_(p)
        elif name.endswith("c_proj.weight"):
            nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(n_residual))
        else:
            nn.init.normal_(p, mean=0.0, std=0.02)


class GPT(nn.Module):
    """Byte-level GPT. ``forward(idx)`` gives logits; ``forward(idx, targets)`` the mean
    cross-entropy (nats per token) over targets that are not -1."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.arch != "gpt":
            raise ValueError(f"GPT needs arch='gpt', got {cfg.arch!r}")
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab, cfg.d_model)
        self.wpe = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        init_weights(self, n_residual=2 * cfg.n_layer)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameters; non-embedding (Kaplan's N) leaves out token and position embeddings."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.wte.weight.numel() + self.wpe.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        T = idx.shape[1]
        if T > self.cfg.seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than seq_len={self.cfg.seq_len}")
        x = self.wte(idx) + self.wpe.weight[:T]
        for block in self.blocks:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied output head
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1),
                               ignore_index=-1)
