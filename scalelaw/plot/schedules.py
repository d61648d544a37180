"""lr_annealing: the fitted runs' schedules and curves next to schedules the user designs.

Tissue et al. 2024 fit one parameter set to a few schedules and then predict the whole loss
curve of any other; this figure puts the learning rates (left) and the losses (right) of both
side by side, so a designed schedule is compared with the ones the law was fitted to.
"""

from __future__ import annotations

import numpy as np

from ._bands import band
from .core import _colour

_MAX_POINTS = 1500  # per curve: long schedules are thinned for drawing, never for predicting


def _as_lr(schedule) -> np.ndarray:
    from scalelaw.schedules import from_spec

    return from_spec(schedule) if isinstance(schedule, str) else np.asarray(schedule, dtype=float)


def _thin(n: int) -> np.ndarray:
    """Indices of at most _MAX_POINTS steps, always keeping the last one."""
    idx = np.unique(np.linspace(0, n - 1, min(n, _MAX_POINTS)).round().astype(int))
    return idx


def _warmup_of(fit, run):
    warm = fit.options.get("warmup_steps", 0) or 0
    return int(warm.get(run, 0)) if isinstance(warm, dict) else int(warm)


def plot_schedules(fit, designs=None, *, level: float = 0.95, show_fitted: bool = True, fig=None):
    """Learning rate and predicted loss against step, fitted schedules and designed ones.

    Parameters
    ----------
    fit : FitResult
        An ``lr_annealing`` fit.
    designs : dict, optional
        ``{name: schedule}`` or ``{name: (schedule, warmup_steps)}``; a schedule is a per-step LR
        array (steps 1..S) or a string such as ``"wsd:n_steps=3000,peak=2e-3,decay_frac=0.2"``.
        Each gets its predicted whole curve (with a bootstrap band when the fit has draws).
    show_fitted : bool
        Also draw the schedules the law was fitted to, their data and predicted curves (dashed).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not getattr(fit.law, "schedule_law", False):
        raise ValueError(f"plot_schedules needs a schedule law fit (lr_annealing, multi_power), got {fit.law.name!r}")
    fig = fig or make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                               subplot_titles=("learning rate", "loss: data and predicted curves"))
    colour_i = 0
    seen = []  # losses that set the loss axis: data and the curves' later halves
    if show_fitted:
        table = fit.table
        for run, sched in (fit.info.get("resolved_schedules") or {}).items():
            colour = _colour(colour_i)
            colour_i += 1
            lr = _as_lr(sched)
            idx = _thin(len(lr))
            steps = idx + 1
            pred = fit.predict(schedule=lr, warmup_steps=_warmup_of(fit, run))
            seen += list(pred[len(pred) // 2:])
            fig.add_trace(go.Scatter(x=steps, y=lr[idx], mode="lines", line={"color": colour, "dash": "dash"},
                                     name=f"{run} (fitted)", legendgroup=f"fit-{run}"), row=1, col=1)
            fig.add_trace(go.Scatter(x=steps, y=pred[idx], mode="lines", line={"color": colour, "dash": "dash"},
                                     name=f"{run}: law", legendgroup=f"fit-{run}", showlegend=False), row=1, col=2)
            if "run" in table.columns:
                sub = table[table["run"].astype(str) == str(run)]
                seen += list(sub[fit.target])
                fig.add_trace(go.Scatter(x=sub[fit.inputs["step"]], y=sub[fit.target], mode="markers",
                                         marker={"color": colour, "size": 4}, name=f"{run}: data",
                                         legendgroup=f"fit-{run}", showlegend=False), row=1, col=2)
    for name, spec in (designs or {}).items():
        schedule, warm = spec if isinstance(spec, tuple) else (spec, 0)
        lr = _as_lr(schedule)
        colour = _colour(colour_i)
        colour_i += 1
        idx = _thin(len(lr))
        steps = idx + 1
        pred = fit.predict(schedule=lr, warmup_steps=warm)
        seen += list(pred[len(pred) // 2:])
        label = f"{name}: final {pred[-1]:.4g}"
        fig.add_trace(go.Scatter(x=steps, y=lr[idx], mode="lines", line={"color": colour, "width": 3},
                                 name=label, legendgroup=f"design-{name}"), row=1, col=1)
        if fit.draws is not None:
            lo, hi = fit.predict_interval(schedule=lr, warmup_steps=warm, level=level, warn=False)
            band(fig, steps, lo[idx], hi[idx], colour, legendgroup=f"design-{name}", row=1, col=2)
        fig.add_trace(go.Scatter(x=steps, y=pred[idx], mode="lines", line={"color": colour, "width": 3},
                                 name=f"{name}: predicted", legendgroup=f"design-{name}", showlegend=False),
                      row=1, col=2)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="step", row=1, col=2)
    fig.update_yaxes(title_text="learning rate", row=1, col=1)
    fig.update_yaxes(title_text=fit.target, row=1, col=2)
    if seen:
        # the law starts far above the data (S1 -> 0 at step 1): fit the axis to what matters
        lo, hi = min(seen), max(seen)
        fig.update_yaxes(range=[lo - 0.1 * (hi - lo), hi + 0.4 * (hi - lo)], row=1, col=2)
    fig.update_layout(template="plotly_white", title="lr_annealing: schedules compared")
    return fig
