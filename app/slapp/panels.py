"""Per-law answers: compute-optimal N and D (chinchilla, kaplan_nd), the encoder/decoder split
(encdec), schedules compared (lr_annealing), the mixture optimum (dcpt), and "what reaches a
loss" for the rest. Each is a few inputs, library calls, and a figure from ``scalelaw.plot``."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .fitting import Outcome
from .results import fmt

TITLES = {"chinchilla": "Compute-optimal", "kaplan_nd": "Compute-optimal", "encdec": "Encoder/decoder split",
          "lr_annealing": "Schedules", "multi_power": "Schedules", "dcpt": "Mixture", "dcpt_cross": "Mixture"}

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
        elif getattr(outcome.fit.law, "schedule_law", False):
            _schedules(outcome.fit, level, scope)
            _optimised_schedule(outcome.fit, level, scope)
        elif law in ("dcpt", "dcpt_cross"):
            _mixture(outcome, level, scope)
        if not getattr(outcome.fit.law, "schedule_law", False) and law not in ("dcpt", "dcpt_cross"):
            _reach(outcome.fit, scope)
    except (ValueError, TypeError, KeyError, NotImplementedError) as err:  # a bad entry, not a crash
        st.error(f"{type(err).__name__}: {err}")


def _optimum_shown(fit, **budget) -> dict:
    """``fit.optimum(**budget)``, with its extrapolation warning shown on the page: the panel's
    default budget lies beyond the data by design, and how far beyond (the optimum's N and D) is
    what the user should weigh the answer by. (Raised as a Python warning it reached only the
    server's log.)"""
    import warnings

    from scalelaw.result import ExtrapolationWarning

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ExtrapolationWarning)
        opt = fit.optimum(**budget)
    for w in seen:
        if issubclass(w.category, ExtrapolationWarning):
            st.caption(f"⚠ {w.message} (the optimum is the law's extrapolation there)")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return opt


def _compute_optimal(fit, level, scope):
    N = fit.table[fit.inputs["N"]].to_numpy(float)
    D = fit.table[fit.inputs["D"]].to_numpy(float)
    C = _float_input("FLOP budget C (= 6 N D)", 10.0 * float(np.max(6.0 * N * D)), f"{scope}::budget_C")
    if C is None:
        return
    opt = _optimum_shown(fit, C=C)
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
    n_e, n_d = (fit.table[fit.inputs[k]].to_numpy(float) for k in ("N_e", "N_d"))
    B = _float_input("Parameter budget N_e + N_d", 2.0 * float((n_e + n_d).max()), f"{scope}::budget_B")
    if B is None:
        return
    opt = _optimum_shown(fit, budget=B)
    opt_share = opt["N_e"] / (opt["N_e"] + opt["N_d"])  # = p_e / (p_e + p_d), the law's closed form
    c = st.columns(3)
    # an exponent that collapsed to ~0 gives its side ~1e-100 parameters: say "< 1", not a number
    c[0].metric("optimal encoder N_e", f"{opt['N_e']:.4g}" if opt["N_e"] >= 1 else "< 1 parameter",
                help=f"encoder share p_e / (p_e + p_d) = {opt_share:.3g}")
    c[1].metric("optimal decoder N_d", f"{opt['N_d']:.4g}" if opt["N_d"] >= 1 else "< 1 parameter")
    c[2].metric(f"predicted {fit.target}", f"{opt['loss']:.4g}")
    # the budget is beyond the data by design; the split is worth a word when its encoder share is
    # outside every share fitted (e.g. an exponent collapsed to ~0 puts the whole budget on one side)
    shares = n_e / (n_e + n_d)
    if not shares.min() <= opt_share <= shares.max():
        small = [f"{k} = {fit.params[k]:.2g}" for k in ("p_e", "p_d") if fit.params[k] < 1e-3]
        st.warning(f"The optimal split puts {opt_share:.3g} of the budget in the encoder, outside the encoder "
                   f"shares fitted ({shares.min():.3g} to {shares.max():.3g}): it is the law's extrapolation, not "
                   "something the data show"
                   + (f" ({', '.join(small)}: in these data that side's size barely moved the loss)" if small else "")
                   + ".")
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
    from scalelaw.schedule_optimum import _law_warmup

    designs = {n: (spec, _law_warmup(fit, warm)) for n, (spec, warm) in designs.items()}
    rows = []
    for name, (spec, warm) in designs.items():
        curve = fit.predict(schedule=spec, warmup_steps=warm)
        row = {"schedule": name, "spec": spec, "final predicted loss": float(curve[-1])}
        if fit.draws is not None:
            lo, hi = fit.predict_interval(schedule=spec, warmup_steps=warm, level=level, steps=[len(curve)])
            row[fit.interval_label(level)] = f"[{lo[0]:.4g}, {hi[0]:.4g}]"
        rows.append(row)
    table = pd.DataFrame(rows)
    best = table.loc[table["final predicted loss"].idxmin(), "schedule"]
    st.table(table.style.format({"final predicted loss": "{:.4g}"}).hide(axis="index"))
    st.caption(f"Lowest predicted final loss: schedule {best}.")
    fig = plot_schedules(fit, {f"{n}: {s.split(':')[0]}": (s, w) for n, (s, w) in designs.items()}, level=level)
    st.plotly_chart(fig, key="schedules_figure")


def _optimised_schedule(fit, level, scope):
    """The schedule the law predicts to end lowest (fit.optimal_schedule), beside cosine."""
    from scalelaw.plot import plot_schedules
    from scalelaw.schedule_optimum import _law_warmup

    base = _fitted_schedule_defaults(fit)
    with st.form(f"{scope}::optimum"):
        st.markdown("**Optimised schedule**: the schedule of a family predicted to end lowest, beside cosine")
        c = st.columns(5)
        family = c[0].selectbox("family", ["wsd", "cosine", "free"], key=f"{scope}::opt::family")
        n_steps = c[1].number_input("steps", min_value=2, value=int(base["n_steps"]), step=100, key=f"{scope}::opt::n")
        peak = c[2].number_input("peak LR", min_value=0.0, value=float(base["peak"]), format="%.3e",
                                 key=f"{scope}::opt::peak")
        warm = c[3].number_input("warm-up steps", min_value=0, value=int(base["warmup"]), step=10,
                                 key=f"{scope}::opt::warm")
        floor = c[4].number_input("lowest LR", min_value=0.0, value=float(base["peak"]) * 0.1, format="%.3e",
                                  key=f"{scope}::opt::floor")
        go = st.form_submit_button("Optimise")
    if not go:
        return
    res = fit.optimal_schedule(int(n_steps), float(peak), warmup=int(warm), floor=float(floor), family=family,
                               level=level)
    iv = lambda k: f"[{res[k][0]:.4g}, {res[k][1]:.4g}]" if res[k] else None  # noqa: E731
    m = st.columns(3)
    m[0].metric("optimised final loss", f"{res['loss']:.4g}", help=iv("loss_interval"))
    m[1].metric("cosine final loss", f"{res['cosine_loss']:.4g}", help=iv("cosine_interval"))
    m[2].metric("gain over cosine", f"{res['gain']:.4g}", help=iv("gain_interval"))
    st.caption((res["spec"] or "free-form non-increasing schedule") + "; " + "; ".join(res["notes"]))
    w = _law_warmup(fit, int(warm))
    fig = plot_schedules(fit, {f"optimised ({family})": (res["schedule"], w), "cosine": (res["cosine_spec"], w)},
                         level=level, show_fitted=False)
    st.plotly_chart(fig, key="optimum_figure")


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
