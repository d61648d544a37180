"""Run configuration: one dataclass per run, presets by name, checked overrides (no torch here).

A run is described by a :class:`TrainConfig` (data, optimisation, schedule, hardware, logging,
checkpoints, continual pre-training) holding a :class:`ModelConfig` (the architecture only, like
nanoGPT's ``GPTConfig``). Field names are unique across the two, so overrides are flat:
``{"d_model": 128, "batch_size": 32}``; ``"model.d_model"`` is accepted too.

The learning-rate schedule is a string in the form of :mod:`scalelaw.schedules`, and may leave
its step counts to the run: ``cosine:n_steps={n_steps},peak=3e-3,warmup={n_steps//10}`` is
filled in from ``n_steps`` (which a sweep derives from a token budget).

Examples
--------
>>> cfg = get_preset("tiny", n_steps=20, seed=1)
>>> cfg.resolved_schedule()
'cosine:n_steps=20,peak=3e-3,floor=3e-4,warmup=2'
>>> cfg.counts()["N"]
98624
"""

from __future__ import annotations

import ast
import math
import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass, field

from scalelaw import schedules
from scalelaw.model_size import count_params

__all__ = [
    "ConfigError",
    "config_changes",
    "tokenizer_vocab",
    "check_complete_log",
    "ModelConfig",
    "TrainConfig",
    "PRESETS",
    "get_preset",
    "apply_overrides",
    "parse_override_strings",
    "fill_placeholders",
    "estimate_memory",
    "arch_diff",
    "stack_key",
]

DOMAINS = ("code", "legal", "math")  # the domain corpora `scalelaw data build` makes
_COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class ConfigError(ValueError):
    """A run configuration that cannot work (bad value, unknown key, too big for the device...)."""


@dataclass
class ModelConfig:
    """Architecture only; everything :func:`scalelaw.model_size.count_params` needs."""

    arch: str = "gpt"  # "gpt" (decoder-only) or "encdec" (encoder-decoder, translation)
    n_layer: int = 2  # decoder-only blocks (unused by encdec)
    n_enc_layer: int = 0  # encoder blocks (encdec only)
    n_dec_layer: int = 0  # decoder blocks, each with cross-attention (encdec only)
    d_model: int = 64  # residual width; encoder and decoder share it so count_params applies
    n_head: int = 2  # attention heads; d_model / n_head is the head size
    d_ff: int | None = None  # MLP width; None = 4 * d_model (Kaplan's and count_params' default)
    vocab: int = 256  # byte-level tokens: the corpora are uint8
    seq_len: int = 64  # context = learned positions (each side of an encdec has its own)
    bias: bool = False  # biases in Linear/LayerNorm; off, as in most recent LMs

    @property
    def ff(self) -> int:
        return 4 * self.d_model if self.d_ff is None else self.d_ff

    def counts(self) -> dict:
        """``count_params`` of this architecture (N non-embedding, N_total, flops_per_token...)."""
        if self.arch == "encdec":
            return count_params(None, self.d_model, self.vocab, d_ff=self.ff, n_ctx=self.seq_len,
                                bias=self.bias, n_enc_layer=self.n_enc_layer,
                                n_dec_layer=self.n_dec_layer)
        return count_params(self.n_layer, self.d_model, self.vocab, d_ff=self.ff,
                            n_ctx=self.seq_len, bias=self.bias)

    def validate(self) -> None:
        if self.arch not in ("gpt", "encdec"):
            raise ConfigError(f"arch must be 'gpt' or 'encdec', got {self.arch!r}")
        if self.arch == "gpt" and self.n_layer < 1:
            raise ConfigError(f"arch='gpt' needs n_layer >= 1, got {self.n_layer}")
        if self.arch == "encdec" and (self.n_enc_layer < 1 or self.n_dec_layer < 1):
            raise ConfigError("arch='encdec' needs n_enc_layer >= 1 and n_dec_layer >= 1, got "
                              f"{self.n_enc_layer} and {self.n_dec_layer}")
        for key in ("d_model", "n_head", "vocab", "seq_len"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.d_model % self.n_head:
            raise ConfigError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        if self.ff < 1:
            raise ConfigError(f"d_ff must be >= 1, got {self.d_ff}")


@dataclass
class TrainConfig:
    """Everything one run needs; saved whole in its log header and its checkpoints."""

    model: ModelConfig = field(default_factory=ModelConfig)
    name: str | None = None  # run name (file stem of its log); None = derived from the config
    preset: str | None = None  # preset it came from, for names and the index only
    # --- data
    corpus: str = "general"  # LM training corpus (corpora.load_tokens name)
    pairs: str = "enfr"  # parallel corpus of encdec runs (corpora.load_pairs name)
    tiny_data: bool = False  # use the seconds-to-build tiny corpora (tests, CI)
    # "byte" (default: one byte = one token, vocab 256) or "bpe<V>": the shards of
    # `scalelaw data bpe --vocab V` (decoder-only runs; the model's vocab follows)
    tokenizer: str = "byte"
    data_root: str | None = None  # shard folder; None = corpora.DEFAULT_ROOT ($SCALELAW_SHARDS)
    # --- optimisation
    batch_size: int = 16  # sequences per step; tokens per step = batch_size * seq_len
    n_steps: int | None = None  # optimiser steps; None = the schedule's own n_steps
    # LR per step (scalelaw.schedules string form); {n_steps}-placeholders follow n_steps
    schedule: str = "cosine:n_steps={n_steps},peak=3e-3,floor=3e-4,warmup={n_steps//10}"
    weight_decay: float = 0.1  # AdamW decoupled decay on matrices and embeddings, not on norms
    beta1: float = 0.9
    beta2: float = 0.95  # 0.95 rather than 0.999: steadier with large LRs (GPT-3, nanoGPT)
    eps: float = 1e-8
    grad_clip: float = 1.0  # global gradient-norm clip per model; 0 disables it
    # encdec only: the encoder's blocks train at LR * n_enc_layer**-enc_lr_depth_power (all else
    # at LR). With Adam every block moves its weights by ~LR a step, so a deeper encoder's output
    # (the keys and values the decoder's cross-attention must learn to read) moves further each
    # step; on numwords a 4-layer encoder learnt to read the source later than a 1-layer one
    # (data/cpu_numwords_dlr/README.md). 0 (default): the same LR everywhere
    enc_lr_depth_power: float = 0.0
    # encdec only: cut each batch to its longest source and longest target (+ EOS) instead of
    # padding both to seq_len. The loss is the same (PAD keys are masked, PAD targets carry no
    # loss, the decoder is causal), the work is not: on numparse (targets of <= 10 digits) the
    # decoder would otherwise run 112 positions for ~8 real ones. Logged flops stay the padded
    # count. Off by default: the shape varies per batch, which torch.compile would recompile for
    trim_pairs: bool = False
    seed: int = 0  # model init and data order (batches are a pure function of seed and step)
    # --- hardware
    device: str = "auto"  # "auto" (cuda if present), "cpu", "cuda", "cuda:1", ...
    dtype: str = "auto"  # "auto" (bf16 autocast on CUDA, fp32 on CPU), "bf16" or "fp32"
    # torch.compile: None = on CUDA only (on the CPU compile time dwarfs tiny runs), True =
    # anywhere (inductor's C++ backend on the CPU), False = never
    compile: bool | None = None
    compile_mode: str = "default"  # torch.compile mode: default, reduce-overhead (CUDA graphs)...
    # MFU's denominator in FLOP/s; None = the device's dense bf16 peak (scalelaw.train.peaks),
    # no MFU on a device not listed there
    peak_flops: float | None = None
    # --- evaluation and logging
    eval_interval: int = 100  # validation every this many steps, plus step 0 and the last step
    eval_seqs: int = 128  # fixed held-out sequences (evenly spaced windows of the val shard)
    log_interval: int = 10  # train-loss rows every this many steps (mean since the last row)
    out_dir: str = "runs"  # where <run>.jsonl (and <run>.pt) go
    # --- checkpoints
    save_checkpoint: bool = False  # write <run>.pt at the last step (needed for a CPT base)
    ckpt_interval: int = 0  # also every this many steps (0 = never); allows --resume
    stop_at: int | None = None  # stop after this step with a checkpoint, log left incomplete
    # --- continual pre-training (D-CPT)
    init_from: str | None = None  # base checkpoint: its weights start this run (fresh optimiser)
    domain: str | None = None  # domain corpus mixed into training (code, legal, math)
    mix_ratio: float | None = None  # r: the share of batch positions drawn from the domain

    # -- derived -------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """The number of optimiser steps of the run."""
        if self.n_steps is not None:
            return self.n_steps
        if "{" in self.schedule:
            raise ConfigError(f"schedule {self.schedule!r} has placeholders: give n_steps")
        return schedules.parse_spec(self.schedule)[1]["n_steps"]

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.model.seq_len

    @property
    def is_cpt(self) -> bool:
        """Training on a domain mixture: logs ``val_general`` and ``val_<domain>``."""
        return self.domain is not None

    @property
    def val_splits(self) -> list[str]:
        """Logged validation splits: ``val``; ``val_general`` and ``val_<domain>`` for CPT;
        ``val`` and ``val_rotated`` (each held-out target with another pair's source) for
        encoder-decoders."""
        if self.is_cpt:
            return ["val_general", f"val_{self.domain}"]
        return ["val", "val_rotated"] if self.model.arch == "encdec" else ["val"]

    def resolved_schedule(self) -> str:
        """The schedule string with ``{n_steps}`` placeholders filled in."""
        return fill_placeholders(self.schedule, self.steps)

    def lr_array(self):
        """LR of steps 1..steps (numpy), from :func:`scalelaw.schedules.from_spec`."""
        return schedules.from_spec(self.resolved_schedule())

    def counts(self) -> dict:
        return self.model.counts()

    @property
    def run_name(self) -> str:
        if self.name:
            return self.name
        if self.model.arch == "encdec":
            m = self.model
            arch = self.preset or f"e{m.n_enc_layer}d{m.n_dec_layer}-{m.d_model}"
        else:
            arch = self.preset or f"d{self.model.n_layer}-{self.model.d_model}"
        kind = self.schedule.partition(":")[0]
        name = f"{arch}_{kind}{self.steps}_seed{self.seed}"
        if self.is_cpt:
            name += f"_{self.domain}-r{self.mix_ratio:g}"
        if self.tokenizer != "byte":
            name += f"_{self.tokenizer}"
        return name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        model = ModelConfig(**data.pop("model", {}))
        return cls(model=model, **data)

    def validate(self) -> "TrainConfig":
        """Check every field; raise :class:`ConfigError` naming the field. Returns ``self``."""
        self.model.validate()
        for key in ("batch_size", "eval_interval", "eval_seqs", "log_interval"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.n_steps is not None and self.n_steps < 1:
            raise ConfigError(f"n_steps must be >= 1, got {self.n_steps}")
        try:
            name, kwargs = schedules.parse_spec(self.resolved_schedule())
            schedules.from_spec(self.resolved_schedule())
        except ValueError as err:
            raise ConfigError(f"schedule: {err}") from None
        if kwargs["n_steps"] != self.steps:
            raise ConfigError(
                f"schedule {self.schedule!r} has n_steps={kwargs['n_steps']} but the run has "
                f"n_steps={self.steps}; write n_steps={{n_steps}} in the schedule to follow the run")
        if self.compile_mode not in _COMPILE_MODES:
            raise ConfigError(f"compile_mode must be one of {', '.join(_COMPILE_MODES)}, "
                              f"got {self.compile_mode!r}")
        if self.dtype not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"dtype must be 'auto', 'bf16' or 'fp32', got {self.dtype!r}")
        if not (self.device in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", self.device)):
            raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.peak_flops is not None and not self.peak_flops > 0:
            raise ConfigError(f"peak_flops must be > 0 (FLOP/s, e.g. 989e12), got {self.peak_flops}")
        if self.grad_clip < 0 or self.weight_decay < 0 or self.ckpt_interval < 0:
            raise ConfigError("grad_clip, weight_decay and ckpt_interval must be >= 0")
        if self.enc_lr_depth_power < 0:
            raise ConfigError(f"enc_lr_depth_power must be >= 0, got {self.enc_lr_depth_power}")
        if self.enc_lr_depth_power and self.model.arch != "encdec":
            raise ConfigError("enc_lr_depth_power is for arch='encdec' runs only (it scales the "
                              f"encoder's LR), got arch={self.model.arch!r}")
        if self.trim_pairs and self.model.arch != "encdec":
            raise ConfigError("trim_pairs is for arch='encdec' runs only (it cuts translation "
                              f"pairs' padding), got arch={self.model.arch!r}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and self.eps > 0):
            raise ConfigError("need 0 <= beta1, beta2 < 1 and eps > 0")
        if self.stop_at is not None and not 1 <= self.stop_at:
            raise ConfigError(f"stop_at must be >= 1, got {self.stop_at}")
        if self.is_cpt:
            if self.model.arch != "gpt":
                raise ConfigError("continual pre-training (domain=...) needs arch='gpt'")
            if self.domain not in DOMAINS:
                raise ConfigError(f"domain must be one of {', '.join(DOMAINS)}, got {self.domain!r}")
            if self.mix_ratio is None or not 0.0 <= self.mix_ratio <= 1.0:
                raise ConfigError(f"domain={self.domain!r} needs mix_ratio in [0, 1], "
                                  f"got {self.mix_ratio!r}")
        elif self.mix_ratio is not None:
            raise ConfigError("mix_ratio is set but domain is not: name the domain corpus")
        vocab = tokenizer_vocab(self.tokenizer)
        if self.model.vocab != vocab:
            raise ConfigError(f"tokenizer {self.tokenizer!r} has {vocab} tokens but the model's "
                              f"vocab is {self.model.vocab}; set vocab={vocab}")
        if self.tokenizer != "byte" and self.model.arch != "gpt":
            raise ConfigError(f"tokenizer {self.tokenizer!r}: only decoder-only runs read BPE "
                              "shards; encoder-decoder pairs are byte-level")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9._+=-]+", self.name):
            raise ConfigError(f"run name {self.name!r} may only hold letters, digits and ._+=-")
        return self


# ---------------------------------------------------------------------------------------------
# Schedule placeholders

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ALLOWED_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load,
                  ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.USub)


def _eval_expr(expr: str, n_steps: int) -> int:
    tree = ast.parse(expr.strip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES) or (isinstance(node, ast.Name)
                                                    and node.id != "n_steps"):
            raise ConfigError(f"schedule placeholder {{{expr}}}: only arithmetic on n_steps "
                              "is allowed, e.g. {n_steps} or {n_steps//10}")
    value = eval(compile(tree, "<schedule>", "eval"), {"__builtins__": {}}, {"n_steps": n_steps})
    return int(round(value))  # every placeholder is a step count


def fill_placeholders(template: str, n_steps: int) -> str:
    """Fill ``{n_steps}`` and ``{<arithmetic on n_steps>}`` in a schedule string.

    >>> fill_placeholders("wsd:n_steps={n_steps},peak=1e-3,warmup={0.05*n_steps}", 200)
    'wsd:n_steps=200,peak=1e-3,warmup=10'
    """
    return _PLACEHOLDER.sub(lambda m: str(_eval_expr(m.group(1), n_steps)), template)


# ---------------------------------------------------------------------------------------------
# Presets

def _heads(d_model: int) -> int:
    # head size 32 below d=192 (else 1-2 heads), 64 from there on (flash attention's sweet spot)
    return max(1, d_model // 32) if d_model < 192 else d_model // 64


def _peak_lr(n_params: int) -> float:
    # Kaplan et al. 2020 eq. D.1, LR(N) ~ 0.003239 - 0.0001395 ln N: a starting point, not tuned
    # for byte-level data; sweeps that care should scan it.
    return float(f"{0.003239 - 0.0001395 * math.log(n_params):.2g}")


def _ladder_preset(arch: dict, d_model: int, seq_len: int, batch_size: int) -> dict:
    model = dict(arch, d_model=d_model, n_head=_heads(d_model), seq_len=seq_len)
    n = ModelConfig(**model).counts()["N"]
    peak = _peak_lr(n)
    cfg = dict(model, batch_size=batch_size, eval_interval=100, eval_seqs=128, log_interval=10)
    cfg["schedule"] = (f"cosine:n_steps={{n_steps}},peak={peak:g},floor={peak / 10:g},"
                       "warmup={n_steps//20}")
    # default length: about 20 tokens per parameter (Hoffmann 2022), rounded up to 100 steps
    cfg["n_steps"] = max(100, -(-20 * n // (batch_size * seq_len * 100)) * 100)
    return cfg


_MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}
_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)} - {"model"}

# name -> overrides of the defaults. Decoder ladder "d<layers>-<width>", ~0.1M to ~85M non-embedding
# parameters; encoder-decoders "e<enc>d<dec>-<width>".
PRESETS: dict[str, dict] = {
    "tiny": dict(n_layer=2, d_model=64, n_head=2, seq_len=64, batch_size=16, n_steps=50,
                 eval_interval=10, eval_seqs=32, log_interval=1, tiny_data=True),
    "tiny-encdec": dict(arch="encdec", n_enc_layer=1, n_dec_layer=1, d_model=64, n_head=2,
                        seq_len=64, batch_size=16, n_steps=50, eval_interval=10, eval_seqs=32,
                        log_interval=1, tiny_data=True),
}
for _layers, _width in [(2, 64), (2, 96), (2, 128), (4, 128), (4, 192), (4, 256), (6, 256),
                        (6, 384),
                        (8, 512), (12, 768)]:
    PRESETS[f"d{_layers}-{_width}"] = _ladder_preset(dict(n_layer=_layers), _width, 512, 64)
for _enc, _dec, _width in [(2, 2, 128), (4, 2, 128), (2, 4, 128), (4, 4, 128), (2, 2, 256),
                           (4, 4, 256), (6, 2, 256), (2, 6, 256), (6, 6, 256)]:
    PRESETS[f"e{_enc}d{_dec}-{_width}"] = _ladder_preset(
        dict(arch="encdec", n_enc_layer=_enc, n_dec_layer=_dec), _width, 256, 64)


def get_preset(preset: str, /, **overrides) -> TrainConfig:
    """The config of ``preset`` with ``overrides`` applied and the result validated."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    return apply_overrides(TrainConfig(preset=preset), {**PRESETS[preset], **overrides})


# ---------------------------------------------------------------------------------------------
# Overrides

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _coerce(key: str, value, hint, from_string: bool):
    """``value`` as the type ``hint`` of field ``key``, or a ConfigError that says what was wrong."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if value is None or (from_string and optional and str(value).lower() in ("none", "null")):
        if optional:
            return None
        raise ConfigError(f"{key} may not be None (expected {base.__name__})")
    bad = ConfigError(f"{key}: expected {base.__name__}{' or None' if optional else ''}, "
                      f"got {type(value).__name__} {value!r}")
    if base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise bad
    if isinstance(value, bool):  # bool is an int in Python; never a number here
        raise bad
    if base is int:
        if isinstance(value, str):  # CLI strings, and YAML reads 1e6 as a string
            try:
                value = float(value)
            except ValueError:
                raise bad from None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        raise bad
    if base is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise bad from None
        if isinstance(value, (int, float)):
            return float(value)
        raise bad
    if base is str:
        if isinstance(value, str):
            return value
        raise bad
    raise bad  # pragma: no cover - every field has one of the types above


def tokenizer_vocab(tokenizer: str) -> int:
    """Vocabulary size of a tokenizer name: ``"byte"`` -> 256, ``"bpe1024"`` -> 1024."""
    if tokenizer == "byte":
        return 256
    match = re.fullmatch(r"bpe(\d+)", str(tokenizer))
    if not match or not 256 <= int(match.group(1)) <= 65536:
        raise ConfigError(f"tokenizer must be 'byte' or 'bpe<V>' with 256 <= V <= 65536 "
                          f"(e.g. 'bpe1024'), got {tokenizer!r}")
    return int(match.group(1))


def apply_overrides(cfg: TrainConfig, overrides: dict, *, from_string: bool = False) -> TrainConfig:
    """A copy of ``cfg`` with flat ``overrides`` applied, type-checked, then validated.

    Keys are field names of :class:`TrainConfig` or :class:`ModelConfig` (``model.`` prefix
    optional). Unknown keys and wrong types raise :class:`ConfigError` with the known keys.
    """
    model_hints = typing.get_type_hints(ModelConfig)
    train_hints = typing.get_type_hints(TrainConfig)
    model_changes, train_changes = {}, {}
    for key, value in overrides.items():
        name = key[len("model."):] if key.startswith("model.") else key
        if name in _MODEL_FIELDS:
            model_changes[name] = _coerce(name, value, model_hints[name], from_string)
        elif name in _TRAIN_FIELDS:
            train_changes[name] = _coerce(name, value, train_hints[name], from_string)
        else:
            known = sorted(_MODEL_FIELDS | _TRAIN_FIELDS)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown config key {key!r}{hint}; known keys: {', '.join(known)}")
    if "tokenizer" in train_changes and "vocab" not in model_changes:
        model_changes["vocab"] = tokenizer_vocab(train_changes["tokenizer"])  # vocab follows
    model = dataclasses.replace(cfg.model, **model_changes)
    return dataclasses.replace(cfg, model=model, **train_changes).validate()


def parse_override_strings(items: list[str]) -> dict:
    """``["d_model=128", "seed=3"]`` -> ``{"d_model": "128", "seed": "3"}`` (for apply_overrides)."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"override {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


# Fields that may change between a checkpoint and the run resuming from it.
RESUME_FREE = {"out_dir", "device", "compile", "compile_mode", "stop_at", "data_root",
                "save_checkpoint", "ckpt_interval", "peak_flops"}


def config_changes(old: dict, cfg: TrainConfig) -> list[str]:
    """Fields of ``cfg`` that differ from ``old`` (a ``to_dict()`` stored in a log header or a
    checkpoint), ignoring the run-environment fields of ``RESUME_FREE`` and fields that
    ``old`` predates. Model fields are named ``model.<field>``."""
    new = cfg.to_dict()
    changed = [k for k, v in new.items()
               if k != "model" and k not in RESUME_FREE and k in old and old[k] != v]
    old_model = old.get("model") or {}
    changed += [f"model.{k}" for k, v in new["model"].items() if k in old_model and old_model[k] != v]
    return sorted(changed)


def check_complete_log(cfg: TrainConfig, header: dict, path) -> None:
    """A complete log is only skipped as "done" when it is of this run's config; a log of
    another config (a changed spec, a reused ``--out``) would otherwise pass for this run."""
    changed = config_changes(header.get("config") or {}, cfg)
    if changed:
        raise ConfigError(f"{path} is a complete run of {cfg.run_name!r} with a different config "
                          f"({', '.join(changed)}); move it away or use another output folder")


def check_same_config(cfg: TrainConfig, header: dict, path) -> None:
    """Refuse to start a run whose log file holds a run of another config: the run name does not
    include every field (``--set d_model=96`` or ``--batch-size 8`` keep the preset's name), so
    writing the new log would silently overwrite the other run's curve."""
    changed = config_changes(header.get("config") or {}, cfg)
    if changed:
        raise ConfigError(f"{path} holds a run of {cfg.run_name!r} with a different config "
                          f"({', '.join(changed)}); starting this one would overwrite it: give this run "
                          "another name (--name), another --out, or move the old log away")


# ---------------------------------------------------------------------------------------------
# Memory and compatibility

def estimate_memory(cfg: TrainConfig, n_models: int = 1, *, bf16: bool, flash: bool) -> dict:
    """Rough peak training memory in bytes: weights, optimiser state and activations.

    fp32 weights, gradients and two AdamW moments are 16 bytes a parameter (+2 for bf16 copies
    under autocast). Activations per layer and token follow Korthikanti et al. 2022
    (arXiv:2205.05198, no dropout): ~(10 d + 2 d_ff) stored values, plus the T x T attention
    scores per head when attention is not flash (CPU). The logits and their gradient are fp32.
    The estimate errs high by ~20% on purpose: it only has to catch configs that cannot fit.
    """
    m = cfg.model
    c = m.counts()
    per_param = 16 + (2 if bf16 else 0)
    weights = c["N_total"] * per_param
    act_bytes = 2 if bf16 else 4
    layers = m.n_layer if m.arch == "gpt" else m.n_enc_layer + 2 * m.n_dec_layer
    per_token = layers * ((10 * m.d_model + 2 * m.ff) * act_bytes
                          + (0 if flash else m.n_head * m.seq_len * 4 * 2))
    tokens = cfg.batch_size * m.seq_len * (2 if m.arch == "encdec" else 1)
    activations = tokens * per_token + cfg.batch_size * m.seq_len * m.vocab * 4 * 3
    total = int(1.2 * n_models * (weights + activations))
    return {"total": total, "weights_and_optimizer": n_models * weights,
            "activations": n_models * activations}


# Fields every run of a stack must share: they fix tensor shapes, the optimiser's scalar
# hyper-parameters, the device set-up, or when the loop stops to evaluate, log and checkpoint.
# Runs may differ in everything else: seed, schedule, n_steps, corpus, domain, mix_ratio,
# init_from, name, save_checkpoint.
_STACK_FIELDS = ("batch_size", "tiny_data", "tokenizer", "data_root", "weight_decay", "beta1",
                 "beta2", "eps", "grad_clip", "device", "dtype", "compile", "compile_mode",
                 "eval_interval", "eval_seqs", "log_interval", "out_dir", "ckpt_interval",
                 "stop_at", "peak_flops")


def stack_key(cfg: TrainConfig) -> tuple:
    """Runs with equal keys can train as one stacked module (decoder-only runs only)."""
    if cfg.model.arch != "gpt":
        return ("unstackable", cfg.run_name)
    return (tuple(sorted(dataclasses.asdict(cfg.model).items())),
            tuple(getattr(cfg, f) for f in _STACK_FIELDS))


def arch_diff(a: ModelConfig | dict, b: ModelConfig | dict) -> list[str]:
    """Architecture fields that differ, as ``"d_model: 64 != 128"`` strings."""
    a = a if isinstance(a, dict) else dataclasses.asdict(a)
    b = b if isinstance(b, dict) else dataclasses.asdict(b)
    return [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(_MODEL_FIELDS)
            if a.get(k) != b.get(k)]
