"""Steps 2 and 3: the law and the fit options, in one ``st.form`` so typing never refits.

The form's answer is a plain, JSON-ready request (points, inputs, objective, fixed parameters,
bounds, law options, bootstrap, extrapolation targets): the fit is cached on it, and the
reproducing snippet is written from it.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from . import defaults
from .selection import MODES, model_sizes

LOSSES = {
    "huber": "Huber on log residuals (Hoffmann/Epoch)",
    "squared": "squared log residuals",
    "huber_linear": "Huber on linear residuals",
    "squared_linear": "squared linear residuals",
}
LEVELS = (0.68, 0.8, 0.9, 0.95, 0.99)
DEFAULT_BOOTSTRAP = 200
# a law with one of these inputs is fitted across sizes: no model-size picker
_SIZE_COLUMNS = ("n_params", "n_params_total", "n_enc_params", "n_dec_params")


def law_picker(df: pd.DataFrame, data_id: str) -> str:
    """Sidebar: choose a law (default: the one the data look made for), show its formula and paper."""
    import scalelaw as sl

    st.header("2 · Law")
    names = sl.laws()
    guess = defaults.guess_law(df)
    law = st.selectbox("Scaling law", names, index=names.index(guess), key=f"law::{data_id}")
    st.caption(f"**Paper:** {sl.get_law(law).source}")
    return law


def law_header(law: str) -> None:
    """The law's formula (typeset) and paper, above the results, where there is room for them."""
    import scalelaw as sl

    info = sl.get_law(law).describe()
    st.subheader(f"Law: {law}")
    st.latex(info["latex"])
    st.caption(f"{info['source']}. Target: {info['target']}.")
    with st.expander("Symbols"):
        st.markdown("\n".join([f"- `{k}`: {v}" for k, v in info["inputs"].items()]
                              + [f"- `{k}`: {v}" for k, v in info["params"].items()]))


def _number(text: str, what: str, errors: list, *, allow_blank: bool = True):
    text = (text or "").strip()
    if not text:
        if not allow_blank:
            errors.append(f"{what}: a number is needed")
        return None
    try:
        return float(text)
    except ValueError:
        errors.append(f"{what}: {text!r} is not a number")
        return None


def parse_fixed(text: str, names, errors: list) -> dict:
    """``name = value`` lines; ``name = free`` frees a parameter the law fixes by default."""
    out = {}
    for line in filter(None, (ln.strip() for ln in text.splitlines())):
        name, eq, value = (p.strip() for p in line.partition("="))
        if not eq or name not in names:
            errors.append(f"fixed parameters: {line!r} should be 'name = value' with a name from {', '.join(names)}")
            continue
        if value.lower() == "free":
            out[name] = None
        else:
            number = _number(value, f"fixed {name}", errors, allow_blank=False)
            if number is not None:
                out[name] = number
    return out


def parse_bounds(text: str, names, errors: list) -> dict:
    """``name = min, max`` lines (either side may be blank or ``inf``)."""
    out = {}
    for line in filter(None, (ln.strip() for ln in text.splitlines())):
        name, eq, value = (p.strip() for p in line.partition("="))
        lo, comma, hi = value.partition(",")
        if not eq or not comma or name not in names:
            errors.append(f"bounds: {line!r} should be 'name = min, max' with a name from {', '.join(names)}")
            continue
        out[name] = [_number(lo, f"lower bound of {name}", errors), _number(hi, f"upper bound of {name}", errors)]
    return out


def _default_fixed_text(law) -> str:
    return "\n".join(f"{n} = {v:g}" for n, v in law.default_fixed().items())


def fit_form(df: pd.DataFrame, law_name: str, data_id: str) -> dict | None:
    """Render the form in the sidebar; return the request, or None when an entry is invalid."""
    import scalelaw as sl

    law = sl.get_law(law_name)
    scope = f"{data_id}::{law_name}"

    def key(name):
        return f"{scope}::{name}"

    splits = [str(s) for s in pd.unique(df["split"])]
    numeric = defaults.numeric_columns(df)
    columns = [str(c) for c in df.columns]
    errors: list[str] = []
    st.header("3 · Fit")
    with st.form(f"fit::{scope}"):
        st.markdown("**Points the law sees**")
        modes = list(MODES)
        mode = st.selectbox("Rows", modes, index=modes.index(defaults.POINTS_BY_LAW.get(law_name, "final")),
                            format_func=MODES.get, key=key("mode"))
        is_dcpt = law_name in ("dcpt", "dcpt_cross")
        split = st.selectbox("Domain split" if is_dcpt else "Split", splits,
                             index=splits.index(defaults.default_split(splits, law_name)), key=key("split"))
        general = None
        if is_dcpt:
            general = st.selectbox("General split (second fit, uses 1 - r)", splits,
                                   index=splits.index(defaults.general_split(splits)), key=key("general"))
        size = _size_picker(df, law, key)
        c1, c2 = st.columns(2)
        warmup = c1.number_input("Warm-up steps to drop", min_value=0, value=0, step=100, key=key("warmup"),
                                 help="for 'all steps after a warm-up'")
        smooth = c2.number_input("Smoothing (points)", min_value=1, value=1, step=1, key=key("smooth"),
                                 help="trailing mean of the loss over this many logged points, per run")
        fx = "flops" if "flops" in numeric else (numeric[0] if numeric else None)
        frontier_x = st.selectbox("Frontier x", numeric, index=numeric.index(fx) if fx in numeric else 0,
                                  key=key("frontier_x"), help="compute axis of the lower envelope")

        st.markdown("**Law inputs**")
        inputs = {}
        for inp in law.inputs:
            choices = columns if inp.categorical else numeric
            guess = defaults.input_column(df, inp)
            inputs[inp.name] = st.selectbox(f"{inp.name}: {inp.doc}", choices,
                                            index=choices.index(guess) if guess in choices else 0,
                                            key=key(f"in::{inp.name}"))
        tcol = defaults.target_column(df, law_name)
        target = st.selectbox("Target (what the law predicts)", numeric,
                              index=numeric.index(tcol) if tcol in numeric else 0, key=key("target"))

        st.markdown("**Objective and parameters**")
        loss = st.selectbox("Objective", list(LOSSES), format_func=LOSSES.get, key=key("loss"))
        delta_text = st.text_input("Huber delta", value="1e-3", key=key("delta"))
        fixed_text = st.text_area("Fixed parameters (`name = value`; `name = free` frees a default)",
                                  value=_default_fixed_text(law), key=key("fixed"), height=80)
        bounds_text = st.text_area("Bounds (`name = min, max`)", value="", key=key("bounds"), height=68,
                                   placeholder="e.g. alpha = 0.1, 1")
        options = _law_options(law_name, key, errors)

        st.markdown("**Uncertainty and extrapolation**")
        c1, c2 = st.columns(2)
        n_boot = c1.number_input("Bootstrap resamples", min_value=0, max_value=5000, value=DEFAULT_BOOTSTRAP,
                                 step=50, key=key("n_boot"), help="0: no confidence intervals")
        seed = c2.number_input("Seed", min_value=0, value=0, step=1, key=key("seed"))
        level = st.select_slider("CI level", LEVELS, value=0.95, key=key("level"))
        at = {}
        for inp in law.inputs:
            if inp.categorical or law_name in ("lr_annealing", "multi_power"):
                continue  # lr_annealing extrapolates to a designed schedule (its own panel)
            hint = "auto: the median" if inp.name == "r" else "auto: 10x the largest observed"
            at[inp.name] = st.text_input(f"Extrapolate to {inp.name}", key=key(f"at::{inp.name}"), placeholder=hint)
        st.form_submit_button("Fit", type="primary")

    delta = _number(delta_text, "Huber delta", errors, allow_blank=False)
    request = {
        "law": law_name,
        "points": {"mode": mode, "split": split, "warmup": int(warmup), "smooth": int(smooth), "x": frontier_x,
                   **({"n_params": size} if size is not None else {})},
        "general_split": general,
        "inputs": inputs,
        "target": target,
        "loss": loss,
        "delta": delta,
        "fixed": parse_fixed(fixed_text, law.param_names, errors),
        "bounds": parse_bounds(bounds_text, law.param_names, errors),
        "options": options,
        "bootstrap": int(n_boot),
        "seed": int(seed),
        "level": float(level),
        "at": {k: _number(v, f"extrapolate to {k}", errors) for k, v in at.items()},
    }
    for e in errors:
        st.error(e)
    return None if errors else request


def _size_picker(df: pd.DataFrame, law, key) -> float | None:
    """Which model size's runs the law sees, for a law without a model-size input when the runs
    have several sizes. A schedule law describes one model (its parameters are per size), so it
    starts on the largest size; other laws (a frontier L(C) spans sizes) start on all of them."""
    sizes = model_sizes(df)
    if len(sizes) < 2 or any(i.column in _SIZE_COLUMNS for i in law.inputs):
        return None
    choices = [None, *sizes]
    start = len(choices) - 1 if getattr(law, "schedule_law", False) else 0
    return st.selectbox("Model size (n_params)", choices, index=start, key=key("size"),
                        format_func=lambda v: f"all {len(sizes)} sizes together" if v is None else f"{v:,.0f}",
                        help="the runs of one model size; a schedule law's parameters describe one model")


def _law_options(law_name: str, key, errors: list) -> dict:
    """Widgets for the options a law declares (scalelaw.fit's ``**options``)."""
    opts = {}
    if law_name == "lr_annealing":
        text = st.text_input("Warm-up steps counted at peak LR (blank: from each run's schedule)",
                             key=key("opt::warmup_steps"))
        if text.strip():
            value = _number(text, "warm-up steps", errors)
            if value is not None:
                opts["warmup_steps"] = int(value)
    elif law_name in ("dcpt", "dcpt_cross"):
        eps = _number(st.text_input("eps (keeps C/(r+eps)^gamma finite)", value="0.01", key=key("opt::eps")),
                      "eps", errors, allow_blank=False)
        if eps is not None:
            opts["eps"] = eps
    elif law_name == "encdec":
        c1, c2 = st.columns(2)
        for name, col in (("Ne_ref", c1), ("Nd_ref", c2)):
            value = _number(col.text_input(f"{name} (blank: median)", key=key(f"opt::{name}")), name, errors)
            if value is not None:
                opts[name] = value
    return opts


def auto_targets(request: dict, points: pd.DataFrame) -> dict:
    """Extrapolation targets with blanks filled: 10x the largest observed, the median share r."""
    out = {}
    for name, value in request["at"].items():
        col = request["inputs"][name]
        if value is not None and math.isfinite(value):
            out[name] = float(value)
        elif col in points.columns:
            series = points[col].astype(float)
            out[name] = float(series.median()) if name == "r" else float(series.max()) * 10.0
    return out
