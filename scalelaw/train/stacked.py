"""M same-shape GPTs trained as one module, with a per-model AdamW (for sweeps).

A small model leaves a GPU mostly idle; M of them stacked along a leading model axis turn every
matmul into one batched matmul (``torch.bmm``) and every step into one launch sequence. Each
model keeps its own weights, loss, learning rate, gradient clip and AdamW moments, so a stacked
model ``m`` follows the same trajectory as a :class:`~scalelaw.train.model.GPT` trained alone
with the same seed, data and schedule (up to float rounding; the tests check it).

Parameter names and layouts are those of ``GPT.state_dict()`` with a leading axis of size M,
so ``stacked.state_dict()[k][m]`` is model m's ``k``.

Examples
--------
>>> import torch
>>> from scalelaw.train.config import ModelConfig
>>> from scalelaw.train.model import GPT
>>> cfg = ModelConfig(n_layer=1, d_model=32, n_head=2, seq_len=8)
>>> models = [GPT(cfg) for _ in range(3)]
>>> stack = StackedGPT.from_state_dicts(cfg, [m.state_dict() for m in models])
>>> idx = torch.randint(0, 256, (3, 2, 8))
>>> stack(idx, idx).shape
torch.Size([3])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scalelaw.train.config import ModelConfig

__all__ = ["StackedGPT", "StackedAdamW"]


class StackedLinear(nn.Module):
    """M linear maps: ``x`` (M, N, d_in) -> (M, N, d_out); weight (M, d_out, d_in) like nn.Linear."""

    def __init__(self, n_models: int, d_in: int, d_out: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_models, d_out, d_in))
        self.bias = nn.Parameter(torch.empty(n_models, d_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return torch.bmm(x, self.weight.transpose(1, 2))
        return torch.baddbmm(self.bias[:, None, :], x, self.weight.transpose(1, 2))


class StackedLayerNorm(nn.Module):
    def __init__(self, n_models: int, d: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_models, d))
        self.bias = nn.Parameter(torch.empty(n_models, d)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x, x.shape[-1:]) * self.weight[:, None, :]
        return y if self.bias is None else y + self.bias[:, None, :]


class StackedEmbedding(nn.Module):
    def __init__(self, n_models: int, n: int, d: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_models, n, d))


class StackedBlock(nn.Module):
    """The GPT block (pre-LN, causal SDPA attention, GELU MLP) for M models at once."""

    def __init__(self, cfg: ModelConfig, n_models: int):
        super().__init__()
        M, d, b = n_models, cfg.d_model, cfg.bias
        self.n_head = cfg.n_head
        self.ln_1 = StackedLayerNorm(M, d, b)
        self.attn = nn.Module()
        self.attn.c_attn = StackedLinear(M, d, 3 * d, b)
        self.attn.c_proj = StackedLinear(M, d, d, b)
        self.ln_2 = StackedLayerNorm(M, d, b)
        self.mlp = nn.Module()
        self.mlp.c_fc = StackedLinear(M, d, cfg.ff, b)
        self.mlp.c_proj = StackedLinear(M, cfg.ff, d, b)

    def forward(self, x: torch.Tensor, B: int, T: int) -> torch.Tensor:
        M, _, C = x.shape
        H = self.n_head
        # (M, B*T, 3C) -> three (M*B, H, T, C/H): the M models become extra batch rows for SDPA
        qkv = self.attn.c_attn(self.ln_1(x)).view(M * B, T, 3 * C)
        q, k, v = (t.view(M * B, T, H, C // H).transpose(1, 2) for t in qkv.split(C, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn.c_proj(y.transpose(1, 2).reshape(M, B * T, C))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))


class StackedGPT(nn.Module):
    """M GPTs of one shape. ``forward(idx, targets)`` with (M, B, T) tensors gives the M mean
    losses; the sum of them has each model's own gradient."""

    def __init__(self, cfg: ModelConfig, n_models: int):
        super().__init__()
        if cfg.arch != "gpt":
            raise ValueError("only decoder-only models (arch='gpt') can be stacked")
        self.cfg, self.n_models = cfg, n_models
        self.wte = StackedEmbedding(n_models, cfg.vocab, cfg.d_model)
        self.wpe = StackedEmbedding(n_models, cfg.seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(StackedBlock(cfg, n_models) for _ in range(cfg.n_layer))
        self.ln_f = StackedLayerNorm(n_models, cfg.d_model, cfg.bias)

    @classmethod
    def from_state_dicts(cls, cfg: ModelConfig, states: list[dict]) -> "StackedGPT":
        """Stack the ``state_dict()`` of M GPTs (their initialisation or a checkpoint)."""
        model = cls(cfg, len(states))
        model.load_state_dict({k: torch.stack([s[k] for s in states]) for k in states[0]})
        return model

    def model_state(self, m: int) -> dict:
        """Model ``m``'s weights as a ``GPT.state_dict()`` (CPU copies)."""
        return {k: v[m].detach().cpu().clone() for k, v in self.state_dict().items()}

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        M, B, T = idx.shape
        V, C = self.cfg.vocab, self.cfg.d_model
        # one gather from the (M*V, C) table: model m's tokens are offset by m*V
        offset = (torch.arange(M, device=idx.device) * V).view(M, 1, 1)
        x = F.embedding(idx + offset, self.wte.weight.view(M * V, C))
        x = (x + self.wpe.weight[:, None, :T]).view(M, B * T, C)
        for block in self.blocks:
            x = block(x, B, T)
        logits = torch.bmm(self.ln_f(x), self.wte.weight.transpose(1, 2))  # tied head
        if targets is None:
            return logits.view(M, B, T, V)
        flat = targets.reshape(M, B * T)
        losses = F.cross_entropy(logits.float().view(M * B * T, V), flat.reshape(-1),
                                 ignore_index=-1, reduction="none").view(M, B * T)
        return losses.sum(1) / (flat != -1).sum(1).clamp(min=1)


def _per_model(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(M,) -> (M, 1, ..., 1) broadcastable against ``like``."""
    return x.view(-1, *([1] * (like.dim() - 1)))


class StackedAdamW:
    """AdamW over stacked parameters with one learning rate per model, and per-model clipping.

    The update is torch's AdamW (decoupled decay, bias-corrected moments) applied to each
    model's slice, with ``lr`` a (M,) tensor; a model whose run has ended gets lr 0 and stops
    moving. Gradients are first clipped to a global norm of ``grad_clip`` per model, as
    ``torch.nn.utils.clip_grad_norm_`` does for one model. Decay applies to matrices and
    embeddings (3-d stacked tensors), not to LayerNorm weights or biases, as in the single path.

    ``step`` uses ``torch._foreach_*`` ops (one kernel per op for all tensors where shapes
    allow) and takes only tensors, so ``torch.compile`` can fuse it without recompiling
    when the LR changes: pass ``compile=True`` on CUDA.
    """

    def __init__(self, named_params, *, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1,
                 grad_clip=1.0, compile: bool = False):
        self.names, self.params = zip(*named_params)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay, self.grad_clip = eps, weight_decay, grad_clip
        self.decay = [p.dim() >= 3 for p in self.params]
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.step_t = torch.zeros((), device=self.params[0].device)  # steps taken, on device
        self._impl = torch.compile(self._step) if compile else self._step

    @torch.no_grad()
    def step(self, lr: torch.Tensor) -> None:
        """One update; ``lr`` is a (M,) tensor on the parameters' device."""
        grads = [p.grad for p in self.params]
        self._impl(list(self.params), grads, self.exp_avg, self.exp_avg_sq, lr, self.step_t)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _step(self, params, grads, exp_avg, exp_avg_sq, lr, step_t):
        if self.grad_clip > 0:
            sq = torch.stack([g.float().pow(2).flatten(1).sum(1) for g in grads]).sum(0)
            coef = (self.grad_clip / (sq.sqrt() + 1e-6)).clamp(max=1.0)
            torch._foreach_mul_(grads, [_per_model(coef, g) for g in grads])
        step_t.add_(1)
        bc1 = 1 - self.beta1 ** step_t
        bc2_sqrt = (1 - self.beta2 ** step_t).sqrt()
        decayed = [p for p, d in zip(params, self.decay) if d]
        if self.weight_decay > 0 and decayed:
            factor = 1 - lr * self.weight_decay
            torch._foreach_mul_(decayed, [_per_model(factor, p) for p in decayed])
        torch._foreach_lerp_(exp_avg, grads, 1 - self.beta1)
        torch._foreach_mul_(exp_avg_sq, self.beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - self.beta2)
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, [bc2_sqrt] * len(denom))
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(exp_avg, denom)
        neg_step = -lr / bc1
        torch._foreach_mul_(update, [_per_model(neg_step, p) for p in params])
        torch._foreach_add_(params, update)

    # -- state ---------------------------------------------------------------------------------
    def model_state(self, m: int) -> dict:
        """Model ``m``'s moments by parameter name (the checkpoint format of single runs)."""
        return {"step": int(self.step_t.item()),
                "exp_avg": {n: t[m].detach().cpu().clone() for n, t in zip(self.names, self.exp_avg)},
                "exp_avg_sq": {n: t[m].detach().cpu().clone()
                               for n, t in zip(self.names, self.exp_avg_sq)}}

    def load_model_states(self, states: list[dict]) -> None:
        """Restore from one :meth:`model_state`-style dict per model (all at the same step)."""
        steps = {s["step"] for s in states}
        if len(steps) != 1:
            raise ValueError(f"stacked optimiser states must share one step, got {sorted(steps)}")
        self.step_t.fill_(float(steps.pop()))
        for i, name in enumerate(self.names):
            for key, buf in (("exp_avg", self.exp_avg[i]), ("exp_avg_sq", self.exp_avg_sq[i])):
                buf.copy_(torch.stack([s[key][name] for s in states]))

