"""Per-law answers: compute-optimal N and D (chinchilla, kaplan_nd), the encoder/decoder split
(encdec), schedules compared (lr_annealing), the mixture optimum (dcpt), and "what reaches a
loss" for the rest. Each is a few inputs, library calls, and a figure from ``scalelaw.plot``."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .fitting import Outcome
from .results import fmt

TITLES = {"chinchilla": "Compute-optimal", "kaplan_nd": "Compute-optimal", "encdec": "Encoder/decoder split",
          "lr_annealing": "Schedules", "dcpt": "Mixture", "dcpt_cross": "Mixture"}

# which arguments each schedule's function takes (scalelaw.schedules), for the designer's spec
_SCHEDULE_ARGS = {
    "constant": ("n_steps", "peak", "warmup"),
    "cosine": ("n_steps", "peak", "floor", "warmup"),
    "linear": ("n_steps", "peak", "floor", "warmup"),
    "wsd": ("n_steps", "peak", "floor", "warmup", "decay_frac"),
    "step": ("n_steps", "peak", "warmup", "drops"),
}


def title(law: str) -> str:
    return TITLES.get(law, "Reach a loss")


def _float_input(label: str, default: float, key: str) -> float | None:
    text = st.text_input(label, value=f"{default:.4g}", key=key)
    try:
        value = float(text)
    except ValueError:
        st.error(f"{label}: {text!r} is not a number")
        return None
    if not np.isfinite(value) or value <= 0:
        st.error(f"{label}: must be a positive number, got {text!r}")
        return None
    return value


def law_panel(outcome: Outcome, level: float, scope: str) -> None:
    law = outcome.fit.law.name
    try:
        if law in ("chinchilla", "kaplan_nd"):
            _compute_optimal(outcome.fit, level, scope)
        elif law == "encdec":
            _encdec(outcome.fit, scope)
        elif law == "lr_annealing":
            _schedules(outcome.fit, level, scope)
        elif law in ("dcpt", "dcpt_cross"):
            _mixture(outcome, level, scope)
        if law not in ("lr_annealing", "dcpt", "dcpt_cross"):
            _reach(outcome.fit, scope)
    except (ValueError, TypeError, KeyError, NotImplementedError) as err:  # a bad entry, not a crash
        st.error(f"{type(err).__name__}: {err}")


def _compute_optimal(fit, level, scope):
    N = fit.table[fit.inputs["N"]].to_numpy(float)
    D = fit.table[fit.inputs["D"]].to_numpy(float)
    C = _float_input("FLOP budget C (= 6 N D)", 10.0 * float(np.max(6.0 * N * D)), f"{scope}::budget_C")
    if C is None:
        return
    opt = fit.optimum(C=C)
    c = st.columns(3)
    c[0].metric("compute-optimal N", f"{opt['N']:.4g}")
    c[1].metric("compute-optimal D", f"{opt['D']:.4g}", help=f"{opt['D'] / opt['N']:.3g} tokens per parameter")
    c[2].metric(f"predicted {fit.target}", f"{opt['loss']:.4g}")
    from scalelaw.plot import plot_isoflop

    st.plotly_chart(plot_isoflop(fit, C, level=level), key="isoflop_figure")
    if fit.law.name == "chinchilla":
        from .isoflop_panel import approaches_section

        approaches_section(fit, C, level, scope)


def _encdec(fit, scope):
    total = fit.table[fit.inputs["N_e"]].to_numpy(float) + fit.table[fit.inputs["N_d"]].to_numpy(float)
    B = _float_input("Parameter budget N_e + N_d", 2.0 * float(total.max()), f"{scope}::budget_B")
    if B is None:
        return
    opt = fit.optimum(budget=B)
    c = st.columns(3)
    c[0].metric("optimal encoder N_e", f"{opt['N_e']:.4g}")
    c[1].metric("optimal decoder N_d", f"{opt['N_d']:.4g}")
    c[2].metric(f"predicted {fit.target}", f"{opt['loss']:.4g}")
    from scalelaw.plot import plot_encdec

    st.plotly_chart(plot_encdec(fit, B), key="encdec_figure")


def _fitted_schedule_defaults(fit) -> dict:
    """Step count, peak and warm-up of the longest schedule the law was fitted to."""
    from scalelaw.schedules import from_spec, parse_spec

    best = {"n_steps": 1000, "peak": 1e-3, "warmup": 0}
    for sched in (fit.info.get("resolved_schedules") or {}).values():
        lr = from_spec(sched) if isinstance(sched, str) else np.asarray(sched, float)
        if len(lr) >= best["n_steps"]:
            warm = parse_spec(sched)[1].get("warmup", 0) if isinstance(sched, str) else 0
            best = {"n_steps": len(lr), "peak": float(lr.max()), "warmup": int(warm)}
    return best


def _design(col, name: str, kind: str, base: dict, scope: str):
    """One schedule's widgets; returns its string form and warm-up."""
    from scalelaw.schedules import SCHEDULES, to_spec

    k = f"{scope}::design::{name}"
    kinds = list(SCHEDULES)
    kind = col.selectbox(f"Schedule {name}: type", kinds, index=kinds.index(kind), key=k + "::type")
    n_steps = col.number_input("steps", min_value=1, value=int(base["n_steps"]), step=100, key=k + "::n")
    peak = col.number_input("peak LR", min_value=0.0, value=float(base["peak"]), format="%.3e", key=k + "::peak")
    warm = col.number_input("warm-up steps", min_value=0, value=int(base["warmup"]), step=10, key=k + "::warm")
    frac = col.number_input("decay fraction (wsd)", min_value=0.0, max_value=1.0, value=0.2, step=0.05,
                            key=k + "::frac")
    floor = col.number_input("final LR", min_value=0.0, value=float(base["peak"]) * 0.1, format="%.3e",
                             key=k + "::floor")
    drops = col.text_input("drops (step: 'step/factor;...')", value=f"{int(n_steps * 0.8)}/0.1", key=k + "::drops")
    values = {"n_steps": int(n_steps), "peak": float(peak), "floor": float(floor), "warmup": int(warm),
              "decay_frac": float(frac)}
    if kind == "step":
        values["drops"] = [(int(float(a)), float(b)) for a, b in (d.split("/") for d in drops.split(";") if d.strip())]
    spec = to_spec(kind, **{a: values[a] for a in _SCHEDULE_ARGS[kind]})
    return spec, int(warm)


def _schedules(fit, level, scope):
    import pandas as pd

    from scalelaw.plot import plot_schedules

    base = _fitted_schedule_defaults(fit)
    with st.form(f"{scope}::designer"):
        st.markdown("**Design schedules** and compare their predicted whole curves with the fitted ones")
        left, right = st.columns(2)
        try:
            designs = {"A": _design(left, "A", "wsd", base, scope), "B": _design(right, "B", "cosine", base, scope)}
        except ValueError as err:
            designs = None
            st.error(f"schedule: {err}")
        st.form_submit_button("Predict")
    if not designs:
        return
    rows = []
    for name, (spec, warm) in designs.items():
        curve = fit.predict(schedule=spec, warmup_steps=warm)
        row = {"schedule": name, "spec": spec, "final predicted loss": float(curve[-1])}
        if fit.draws is not None:
            lo, hi = fit.predict_interval(schedule=spec, warmup_steps=warm, level=level, steps=[len(curve)])
            row[f"{level:.0%} CI"] = f"[{lo[0]:.4g}, {hi[0]:.4g}]"
        rows.append(row)
    table = pd.DataFrame(rows)
    best = table.loc[table["final predicted loss"].idxmin(), "schedule"]
    st.table(table.style.format({"final predicted loss": "{:.4g}"}).hide(axis="index"))
    st.caption(f"Lowest predicted final loss: schedule {best}.")
    fig = plot_schedules(fit, {f"{n}: {s.split(':')[0]}": (s, w) for n, (s, w) in designs.items()}, level=level)
    st.plotly_chart(fig, key="schedules_figure")


def _mixture(outcome, level, scope):
    import scalelaw as sl
    from scalelaw.plot import plot_mixture

    dom, gen = outcome.fit, outcome.gen
    sizes = sorted(set(gen.table[gen.inputs["N"]].astype(float)))
    c = st.columns(4)
    N = c[0].selectbox("model size N", sizes, index=len(sizes) - 1, format_func=lambda v: f"{v:.3g}",
                       key=f"{scope}::mix_N")
    D = _float_input("CPT tokens D", float(dom.table[dom.inputs["D"]].max()), f"{scope}::mix_D")
    cap = c[1].number_input("general-loss cap (+%)", min_value=0.0, value=3.0, step=0.5, key=f"{scope}::mix_cap")
    base_text = c[2].text_input("general baseline (blank: step-0 rows)", key=f"{scope}::mix_base")
    domain = None
    if dom.law.name == "dcpt_cross":
        domain = c[3].selectbox("domain", dom.info.get("domains", []), key=f"{scope}::mix_domain")
    if D is None:
        return
    baseline = float(base_text) if base_text.strip() else None
    try:
        opt = sl.mixture_optimum(dom, gen, N=N, D=D, max_general_increase=cap / 100.0, general_baseline=baseline,
                                 domain=domain)
    except ValueError as err:
        st.warning(f"{err}. Showing the curves without the cap.")
        opt = None
    if opt is not None:
        m = st.columns(3)
        m[0].metric("largest domain share r", fmt(opt["r"]) if opt["feasible"] else "none within the cap")
        m[1].metric("domain loss there", fmt(opt["domain_loss"]))
        m[2].metric("general loss there", fmt(opt["general_loss"]),
                    help=f"baseline {opt['general_baseline']:.4g}, cap {opt['cap']:.4g}")
    fig = plot_mixture(dom, gen, N, D, max_general_increase=cap / 100.0 if opt is not None else None,
                       general_baseline=baseline, domain=domain, level=level)
    st.plotly_chart(fig, key="mixture_figure")


def _reach(fit, scope):
    """What input reaches a loss: the law solved for one input, the others given."""
    import pandas as pd

    st.markdown("**What reaches a loss?**")
    numeric = [i.name for i in fit.law.inputs if not i.categorical]
    y = fit.table[fit.target].to_numpy(float)
    c = st.columns(len(numeric) + 1)
    target = _float_input(f"{fit.target} to reach", 0.95 * float(y.min()), f"{scope}::reach_loss")
    has_optimum = fit.law.name in ("chinchilla", "kaplan_nd")
    choices = (["compute-optimal C"] if has_optimum else []) + numeric
    solve = c[0].selectbox("solve for", choices, key=f"{scope}::reach_for")
    given = {}
    if solve != "compute-optimal C":
        for i, name in enumerate(n for n in numeric if n != solve):
            col = fit.table[fit.inputs[name]].to_numpy(float)
            with c[i + 1]:
                value = _float_input(f"at {name}", 10.0 * float(col.max()), f"{scope}::reach_at::{name}")
            if value is None:
                return
            given[name] = value
    if target is None:
        return
    answer = fit.reach(target, **given)
    row = pd.DataFrame({k: [fmt(v) if isinstance(v, float) else v] for k, v in answer.items()})
    st.table(row.style.hide(axis="index"))
