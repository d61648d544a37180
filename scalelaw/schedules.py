"""Learning-rate schedules as pure functions of the step (numpy only).

Both the trainer and the ``lr_annealing`` law use these, so a curve trained with a schedule and
the law's prediction for it see exactly the same per-step learning rates. Every function returns
the learning rate of steps ``1..n_steps`` as a float64 array of length ``n_steps``.

Warm-up is a linear ramp from 0: step ``s <= warmup`` gets ``peak * s / warmup``, so the last
warm-up step is at ``peak``. Decays start at the end of warm-up and reach ``floor`` exactly at the
last step (the convention of nanoGPT's ``get_lr`` and of Tissue et al. 2024's schedules).

A schedule also has a string form for CLIs, sweep specs and the tidy ``schedule`` column::

    cosine:n_steps=24000,peak=3e-4,floor=3e-5,warmup=2160
    step:n_steps=16000,peak=3e-4,drops=8000/0.3;12000/0.1

``from_spec`` turns the string into the array, ``to_spec`` does the reverse.

Examples
--------
>>> lr = cosine(100, peak=1e-3, floor=1e-4, warmup=10)
>>> float(lr[9]), float(lr[-1])
(0.001, 0.0001)
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "cosine",
    "constant",
    "linear",
    "wsd",
    "step",
    "SCHEDULES",
    "from_spec",
    "parse_spec",
    "to_spec",
]


# The most steps a schedule may have: it is built as an array of per-step learning rates (8 bytes a
# step, 800 MB here), and no training run comes near (Chinchilla's largest run: ~1e6 steps). Above
# it, n_steps=1e12 asked numpy for 7.28 TiB: a MemoryError that crashed the app's forecast panel.
MAX_STEPS = 100_000_000


def _check(n_steps: int, peak: float, warmup: int, floor: float | None = None) -> None:
    """Refuse schedules that cannot be what the user meant (checked when built, not when fitted)."""
    if not np.isfinite(n_steps) or int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if n_steps > MAX_STEPS:
        raise ValueError(f"n_steps must be at most {MAX_STEPS:,} (a schedule is an array of per-step learning "
                         f"rates), got {n_steps:g}")
    if not np.isfinite(peak) or peak <= 0:
        # a zero peak makes every step's LR 0: nothing trains and no schedule law can be fitted to it
        raise ValueError(f"peak must be a finite learning rate > 0, got {peak!r}")
    if int(warmup) != warmup or warmup < 0 or warmup > n_steps:
        raise ValueError(f"warmup must be an integer in [0, n_steps={n_steps}], got {warmup!r}")
    if floor is not None and (not np.isfinite(floor) or floor < 0 or floor > peak):
        raise ValueError(f"floor must be a learning rate in [0, peak={peak:g}], got {floor!r}")


def _with_warmup(lr: np.ndarray, peak: float, warmup: int) -> np.ndarray:
    if warmup > 0:
        steps = np.arange(1, warmup + 1, dtype=np.float64)
        lr[:warmup] = peak * steps / warmup
    return lr


def _decay_progress(n_steps: int, start: int) -> np.ndarray:
    """Fraction of the decay done at steps 1..n_steps: 0 at step ``start``, 1 at ``n_steps``."""
    steps = np.arange(1, n_steps + 1, dtype=np.float64)
    span = max(n_steps - start, 1)
    return np.clip((steps - start) / span, 0.0, 1.0)


def constant(n_steps: int, peak: float, warmup: int = 0) -> np.ndarray:
    """Constant LR ``peak`` after a linear warm-up."""
    _check(n_steps, peak, warmup)
    return _with_warmup(np.full(int(n_steps), float(peak)), peak, warmup)


def cosine(n_steps: int, peak: float, floor: float = 0.0, warmup: int = 0) -> np.ndarray:
    """Half-cosine decay: ``floor + (peak - floor) * (1 + cos(pi * t)) / 2``, t from 0 to 1."""
    _check(n_steps, peak, warmup, floor)
    t = _decay_progress(int(n_steps), warmup)
    lr = floor + (peak - floor) * 0.5 * (1.0 + np.cos(np.pi * t))
    return _with_warmup(lr, peak, warmup)


def linear(n_steps: int, peak: float, floor: float = 0.0, warmup: int = 0) -> np.ndarray:
    """Linear decay from ``peak`` at the end of warm-up to ``floor`` at the last step."""
    _check(n_steps, peak, warmup, floor)
    t = _decay_progress(int(n_steps), warmup)
    return _with_warmup(peak + (floor - peak) * t, peak, warmup)


def wsd(
    n_steps: int,
    peak: float,
    floor: float = 0.0,
    warmup: int = 0,
    decay_frac: float = 0.2,
    shape: str = "linear",
) -> np.ndarray:
    """Warmup-stable-decay: hold ``peak``, then decay over the last ``decay_frac`` of the steps.

    ``shape`` is ``"linear"``, ``"cosine"`` (half cosine) or ``"exp"`` (geometric interpolation
    ``peak^(1-t) * floor^t``, which needs ``floor > 0``).
    """
    _check(n_steps, peak, warmup, floor)
    if not 0.0 <= decay_frac <= 1.0:
        raise ValueError(f"decay_frac must be in [0, 1], got {decay_frac!r}")
    n_steps = int(n_steps)
    start = max(n_steps - int(round(decay_frac * n_steps)), warmup)
    t = _decay_progress(n_steps, start)
    if shape == "linear":
        lr = peak + (floor - peak) * t
    elif shape == "cosine":
        lr = floor + (peak - floor) * 0.5 * (1.0 + np.cos(np.pi * t))
    elif shape == "exp":
        if floor <= 0 or peak <= 0:
            raise ValueError("wsd shape='exp' needs peak > 0 and floor > 0 (geometric decay)")
        lr = np.exp((1.0 - t) * math.log(peak) + t * math.log(floor))
    else:
        raise ValueError(f"wsd shape must be 'linear', 'cosine' or 'exp', got {shape!r}")
    return _with_warmup(lr, peak, warmup)


def step(
    n_steps: int,
    peak: float,
    drops: Sequence[tuple[int, float]],
    warmup: int = 0,
) -> np.ndarray:
    """Piecewise-constant LR: from step ``s_k`` on, the LR is ``peak * factor_k``.

    ``drops`` is a sequence of ``(step, factor)`` pairs; each factor is relative to ``peak``
    (not to the previous level), so ``[(8000, 0.3), (12000, 0.1)]`` means 30% then 10% of peak.
    """
    _check(n_steps, peak, warmup)
    lr = np.full(int(n_steps), float(peak))
    steps = np.arange(1, int(n_steps) + 1)
    for drop in sorted(drops, key=lambda d: d[0]):
        if len(drop) != 2:
            raise ValueError(f"each drop must be a (step, factor) pair, got {drop!r}")
        at, factor = drop[0], float(drop[1])
        if int(at) != at or not 1 <= at <= n_steps:
            raise ValueError(f"a drop's step must be an integer in [1, n_steps={n_steps}], got {at!r}")
        at = int(at)
        if not np.isfinite(factor) or factor < 0:
            raise ValueError(f"drop factor must be >= 0, got {factor!r}")
        lr[steps >= at] = peak * factor
    return _with_warmup(lr, peak, warmup)


SCHEDULES: dict[str, Callable[..., np.ndarray]] = {
    "cosine": cosine,
    "constant": constant,
    "linear": linear,
    "wsd": wsd,
    "step": step,
}

_INT_KEYS = {"n_steps", "warmup"}
_STR_KEYS = {"shape"}


def _parse_drop(text: str) -> tuple:
    at, slash, factor = text.partition("/")
    if not slash:
        raise ValueError(f"a drop is STEP/FACTOR, got {text!r}")
    at = float(at)
    return (int(at) if at == int(at) else at), float(factor)


def parse_spec(spec: str) -> tuple[str, dict]:
    """Parse ``"name:key=value,..."`` into ``(name, kwargs)`` with typed values."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"schedule spec must be a non-empty string, got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r} in {spec!r}; known: {', '.join(SCHEDULES)}")
    kwargs: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise ValueError(f"schedule spec {spec!r}: expected key=value, got {item!r}")
        try:
            if key == "drops":
                kwargs[key] = [_parse_drop(d) for d in value.split(";") if d.strip()]
            elif key in _INT_KEYS:
                number = float(value)
                # int(float()) truncated n_steps=1000.7 to 1000 without a word, and overflowed on inf
                if not np.isfinite(number) or number != int(number):
                    raise ValueError(f"{key} must be a whole number")
                kwargs[key] = int(number)
            elif key in _STR_KEYS:
                kwargs[key] = value
            else:
                kwargs[key] = float(value)
        except ValueError as err:
            why = f" ({err})" if str(err).endswith("whole number") else ""
            raise ValueError(f"schedule spec {spec!r}: bad value for {key!r}: {value!r}{why}") from err
    if "n_steps" not in kwargs or "peak" not in kwargs:
        raise ValueError(f"schedule spec {spec!r} needs at least n_steps and peak")
    return name, kwargs


def from_spec(spec: str) -> np.ndarray:
    """The per-step LR array (steps 1..n_steps) of a schedule's string form."""
    name, kwargs = parse_spec(spec)
    try:
        return SCHEDULES[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"schedule spec {spec!r}: {err}") from err


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.6g}"


def to_spec(name: str, **kwargs) -> str:
    """The string form of a schedule: ``to_spec("cosine", n_steps=100, peak=1e-3)``."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")
    parts = []
    for key, value in kwargs.items():
        if key == "drops":
            value = ";".join(f"{int(s)}/{_fmt(f)}" for s, f in value)
        parts.append(f"{key}={_fmt(value)}")
    return f"{name}:" + ",".join(parts)
