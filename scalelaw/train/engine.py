"""The model(s) and optimiser of one training job: a single run, or M runs stacked.

Both engines take batches with a leading model axis (M = 1 for a single run) and return one
loss per model, so the loop in :mod:`scalelaw.train.loop` treats them alike:

- :class:`SingleEngine`: a ``GPT`` or ``EncoderDecoder`` with torch's AdamW (fused wherever
  torch has the kernel: CUDA, the CPU) and ``clip_grad_norm_``; the fastest path for one run,
  and the reference the stacked path is tested against.
- :class:`StackEngine`: a :class:`~scalelaw.train.stacked.StackedGPT` with the per-model
  :class:`~scalelaw.train.stacked.StackedAdamW`.

By default, on CUDA the model is compiled (``torch.compile``), runs under bf16 autocast and
attention goes through SDPA's flash kernel; on the CPU everything is eager fp32. Each is a flag
(``compile``, ``dtype``) that works on the CPU too (inductor's C++ backend, bf16 autocast), so
the compiled and bf16 paths are tested without a GPU; only CUDA graphs need CUDA
(:func:`~scalelaw.train.hardware.compile_settings`). :meth:`_Engine.describe` says what runs.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from scalelaw.train.config import TrainConfig
from scalelaw.train.encdec import EncoderDecoder
from scalelaw.train.hardware import attention_kernel, compile_settings, fused_adamw_supported
from scalelaw.train.model import GPT
from scalelaw.train.stacked import StackedAdamW, StackedGPT

__all__ = ["initial_state", "build_engine", "SingleEngine", "StackEngine"]


def initial_state(cfg: TrainConfig) -> dict:
    """Freshly initialised weights of run ``cfg`` (seeded; built on the CPU so the same seed
    gives the same model whatever the device, alone or stacked)."""
    torch.manual_seed(cfg.seed)
    cls = EncoderDecoder if cfg.model.arch == "encdec" else GPT
    return cls(cfg.model).state_dict()


def _lr_table(configs: list[TrainConfig]) -> np.ndarray:
    """(max steps, M) learning rates; 0 after a run's last step (its model stops moving)."""
    n = max(cfg.steps for cfg in configs)
    table = np.zeros((n, len(configs)))
    for m, cfg in enumerate(configs):
        table[:cfg.steps, m] = cfg.lr_array()
    return table


def _param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: weight decay on matrices and embeddings, none on LayerNorm weights and
    biases; each with ``lr_scale``, the factor on the schedule's LR: ``n_enc_layer **
    -enc_lr_depth_power`` for an encoder-decoder's encoder blocks, 1 elsewhere."""
    def scale(name: str) -> float:
        if cfg.enc_lr_depth_power and name.startswith("encoder.blocks."):
            return float(cfg.model.n_enc_layer) ** -cfg.enc_lr_depth_power
        return 1.0

    groups: dict = {}
    for name, prm in model.named_parameters():
        decay = cfg.weight_decay if prm.dim() >= 2 else 0.0  # matrices and embeddings
        key = (scale(name), decay)
        groups.setdefault(key, {"params": [], "weight_decay": decay, "lr_scale": key[0]})
        groups[key]["params"].append(prm)
    return list(groups.values())


class _Engine:
    n_models: int

    def __init__(self, configs: list[TrainConfig], device: torch.device, bf16: bool):
        cfg = configs[0]
        self.device, self.lr_table = device, _lr_table(configs)
        self.autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16) if bf16
                         else contextlib.nullcontext())
        self.bf16 = bf16
        self.compiled, self.compile_mode, self.cuda_graphs = compile_settings(cfg, device)
        # CUDA-graph modes reuse output buffers: mark where each new step begins
        mark = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
        self._mark = mark if self.cuda_graphs else None
        self.attention = attention_kernel(cfg.model, device, self.autocast,
                                          masked=cfg.model.arch == "encdec")
        self.fused_optimizer = False
        self.optimizer_name = ""

    def describe(self) -> dict:
        """What actually runs (for the log header), not only what was asked."""
        return {"compiled": self.compiled, "compile_mode": self.compile_mode or (
                    "default" if self.compiled else None),
                "cuda_graphs": self.cuda_graphs, "dtype": "bf16" if self.bf16 else "fp32",
                "optimizer": self.optimizer_name, "fused_optimizer": self.fused_optimizer,
                "attention": self.attention}

    def _forward(self, batch) -> torch.Tensor:
        if self._mark is not None:
            self._mark()
        with self.autocast:
            return self._losses(batch)

    def retire(self, runs: list[int]) -> None:
        """Stop computing the job's runs ``runs`` (they have ended); a single run never is."""

    @torch.no_grad()
    def eval_losses(self, batch) -> torch.Tensor:
        """(M,) mean losses on one validation batch (no update)."""
        self.module.eval()
        losses = self._forward(batch).float().clone()
        self.module.train()
        return losses


class SingleEngine(_Engine):
    n_models = 1

    def __init__(self, configs, device, bf16, states):
        super().__init__(configs, device, bf16)
        cfg = configs[0]
        self.cfg = cfg
        model = EncoderDecoder(cfg.model) if cfg.model.arch == "encdec" else GPT(cfg.model)
        model.load_state_dict(states[0])
        self.module = model.to(device)
        self.fwd = torch.compile(model, mode=self.compile_mode) if self.compiled else model
        # fused: one kernel for the whole update, where torch has one for the device
        self.fused_optimizer = fused_adamw_supported(device)
        self.optimizer = torch.optim.AdamW(
            _param_groups(model, cfg), lr=0.0, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
            **({"fused": True} if self.fused_optimizer else {"foreach": True}))
        self.optimizer_name = f"torch AdamW ({'fused' if self.fused_optimizer else 'foreach'})"

    def _losses(self, batch) -> torch.Tensor:
        return self.fwd(*(t[0] for t in batch)).view(1)

    def train_step(self, batch, step: int) -> torch.Tensor:
        loss = self._forward(batch)
        loss.sum().backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.grad_clip)
        for group in self.optimizer.param_groups:
            group["lr"] = float(self.lr_table[step - 1, 0]) * group["lr_scale"]
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach().float()

    def model_state(self, m: int) -> dict:
        return {k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()}

    def optim_state(self, m: int) -> dict:
        from scalelaw.train.checkpoint import adamw_state

        return adamw_state(self.optimizer, self.module.named_parameters())

    def load_optim_states(self, states: list[dict]) -> None:
        from scalelaw.train.checkpoint import load_adamw_state

        load_adamw_state(self.optimizer, list(self.module.named_parameters()), states[0])


class StackEngine(_Engine):
    """M stacked runs. Runs that end before the others are *retired* (:meth:`retire`): the
    stack is rebuilt from the live runs' weights and moments, so a stack of different budgets
    costs the sum of its runs, not M times the longest. Batches and losses keep the job's M
    rows (a retired run's loss is 0) so the loop indexes runs the same way throughout."""

    def __init__(self, configs, device, bf16, states):
        super().__init__(configs, device, bf16)
        self.cfg = configs[0]
        self.n_models = len(configs)
        self._build(list(range(self.n_models)), states)

    def _build(self, alive: list[int], states: list[dict], optim_states=None) -> None:
        cfg = self.cfg
        self.alive = alive  # the job's index of each stacked row
        self._rows = torch.tensor(alive, device=self.device)
        model = StackedGPT.from_state_dicts(cfg.model, states)
        self.module = model.to(self.device)
        self.fwd = torch.compile(model, mode=self.compile_mode) if self.compiled else model
        self.optimizer = StackedAdamW(
            list(model.named_parameters()), betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
            weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip, compile=self.compiled)
        self.optimizer_name = ("StackedAdamW (foreach, compiled)" if self.compiled
                               else "StackedAdamW (foreach)")
        if optim_states is not None:
            self.optimizer.load_model_states(optim_states)
        self.lr_device = torch.tensor(self.lr_table[:, alive], dtype=torch.float32,
                                      device=self.device)

    def retire(self, runs: list[int]) -> None:
        """Drop the job's runs ``runs`` (ended) from the stack; the others go on unchanged."""
        keep = [m for m in self.alive if m not in set(runs)]
        if not keep or len(keep) == len(self.alive):
            return
        states = [self.model_state(m) for m in keep]
        optim = [self.optim_state(m) for m in keep]
        self._build(keep, states, optim)

    def _losses(self, batch) -> torch.Tensor:
        if len(self.alive) == self.n_models:
            return self.fwd(*batch)
        live = self.fwd(*(t.index_select(0, self._rows) for t in batch))
        return live.new_zeros(self.n_models).index_copy(0, self._rows, live)

    def train_step(self, batch, step: int) -> torch.Tensor:
        losses = self._forward(batch)
        losses.sum().backward()  # the sum's gradient w.r.t. model m's weights is m's own
        self.optimizer.step(self.lr_device[step - 1])
        self.optimizer.zero_grad()
        return losses.detach().float()

    def model_state(self, m: int) -> dict:
        return self.module.model_state(self.alive.index(m))

    def optim_state(self, m: int) -> dict:
        return self.optimizer.model_state(self.alive.index(m))

    def load_optim_states(self, states: list[dict]) -> None:
        self.optimizer.load_model_states(states)


def build_engine(configs: list[TrainConfig], device: torch.device, bf16: bool,
                 states: list[dict], stack: bool | None = None):
    """A :class:`SingleEngine` for one run, a :class:`StackEngine` for several (or when
    ``stack=True``); ``states`` are the runs' starting weights."""
    if len(configs) > 1 or stack:
        return StackEngine(configs, device, bf16, states)
    return SingleEngine(configs, device, bf16, states)
