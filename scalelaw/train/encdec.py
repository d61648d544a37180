"""Encoder-decoder transformer for translation (the ``encdec`` law of Ghorbani et al. 2021).

Encoder and decoder share the width ``d_model`` and are sized independently by their depths
``n_enc_layer`` and ``n_dec_layer``, so ``count_params`` gives N_e and N_d exactly:
encoder blocks are the GPT block without the causal mask; decoder blocks add a cross-attention
(``4 d^2``: query ``d^2``, key/value ``2 d^2``, output ``d^2``) with its own LayerNorm; each side
ends with a LayerNorm. One token embedding serves source, target and the tied output head; each
side has its own learned positions (both counted as embedding, not in N).

Sequences: the source is its bytes padded with ``PAD`` (pad keys are masked out, so the
encoder needs no end marker), the decoder reads ``BOS + tgt`` and predicts ``tgt + EOS``;
targets are -1 past the end.

Examples
--------
>>> import torch
>>> from scalelaw.train.config import ModelConfig
>>> cfg = ModelConfig(arch="encdec", n_enc_layer=2, n_dec_layer=1, d_model=64, n_head=2, seq_len=16)
>>> model = EncoderDecoder(cfg)
>>> model.num_params() == cfg.counts()["N"], model.num_params("encoder") == cfg.counts()["N_e"]
(True, True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scalelaw.train.config import ModelConfig
from scalelaw.train.model import MLP, Block, SelfAttention, init_weights

__all__ = ["EncoderDecoder", "CrossAttention", "DecoderBlock", "BOS", "EOS", "PAD"]

# Byte 0 never occurs inside a sentence of the parallel corpora (it separates documents), so it
# can mark padding and both ends of the target.
BOS = EOS = PAD = 0


class CrossAttention(nn.Module):
    """Decoder queries attend over the encoder's output (keys and values from one matmul)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.q = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.kv = nn.Linear(cfg.d_model, 2 * cfg.d_model, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        S, H = memory.shape[1], self.n_head
        q = self.q(x).view(B, T, H, C // H).transpose(1, 2)
        k, v = (t.view(B, S, H, C // H).transpose(1, 2) for t in self.kv(memory).split(C, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :])
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class DecoderBlock(nn.Module):
    """Pre-LN: causal self-attention, cross-attention, MLP, each on a residual branch."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.attn = SelfAttention(cfg, causal=True)
        self.ln_2 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.cross = CrossAttention(cfg)
        self.ln_3 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x, memory, src_mask):
        x = x + self.attn(self.ln_1(x))
        x = x + self.cross(self.ln_2(x), memory, src_mask)
        return x + self.mlp(self.ln_3(x))


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.wpe = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, causal=False) for _ in range(cfg.n_enc_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)


class Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.wpe = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.n_dec_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)


class EncoderDecoder(nn.Module):
    """``forward(src, tgt_in, targets)`` gives the mean cross-entropy over target bytes (nats);
    without ``targets`` the logits (B, T, vocab)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.arch != "encdec":
            raise ValueError(f"EncoderDecoder needs arch='encdec', got {cfg.arch!r}")
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab, cfg.d_model)
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        init_weights(self.encoder, n_residual=2 * cfg.n_enc_layer)
        init_weights(self.decoder, n_residual=3 * cfg.n_dec_layer)
        nn.init.normal_(self.wte.weight, mean=0.0, std=0.02)

    def num_params(self, part: str = "non_embedding") -> int:
        """``"non_embedding"`` (N = N_e + N_d), ``"encoder"``, ``"decoder"`` or ``"total"``."""
        def count(module, skip):
            return sum(p.numel() for n, p in module.named_parameters() if not n.startswith(skip))
        n_e, n_d = count(self.encoder, "wpe."), count(self.decoder, "wpe.")
        return {"non_embedding": n_e + n_d, "encoder": n_e, "decoder": n_d,
                "total": sum(p.numel() for p in self.parameters())}[part]

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        src_mask = src != PAD
        src_mask[:, 0] = True  # never a row with nothing to attend to
        x = self.wte(src) + self.encoder.wpe.weight[: src.shape[1]]
        for block in self.encoder.blocks:
            x = block(x, src_mask)
        return self.encoder.ln_f(x), src_mask

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor,
                targets: torch.Tensor | None = None) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        x = self.wte(tgt_in) + self.decoder.wpe.weight[: tgt_in.shape[1]]
        for block in self.decoder.blocks:
            x = block(x, memory, src_mask)
        logits = F.linear(self.decoder.ln_f(x), self.wte.weight)
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1),
                               ignore_index=-1)
