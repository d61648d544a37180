"""The data as read: a preview, what was skipped, and the two corrections a user can make.

Corrections are passed back to ``read_logs`` (``columns=`` for the mapping, ``metadata=`` for
run facts), so the app never edits the data itself; they are kept per data set in the session.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from .sources import Loaded, overrides

# run-level facts a user may need to supply (DESIGN §4). n_tokens varies by step, so it is not
# one of them: read_logs derives it from tokens_per_step (or batch size x sequence length).
RUN_FACTS = ("n_params", "n_params_total", "n_enc_params", "n_dec_params", "schedule", "batch_size", "seq_len",
             "tokens_per_step", "domain", "mix_ratio")
_TEXT_FACTS = ("schedule", "domain")
_INT_FACTS = ("batch_size", "seq_len")


def mapping_text(df: pd.DataFrame) -> str:
    """The column mapping ``read_logs`` used, one ``source -> target`` line per column."""
    lines, seen = [], set()
    for mapping in (df.attrs.get("columns") or {}).values():
        for source, target in (mapping or {}).items():
            if source not in seen:
                seen.add(source)
                lines.append(f"{source} -> {target if target is not None else 'none'}")
    return "\n".join(lines)


def parse_mapping(text: str) -> dict:
    """``source -> target`` lines into ``read_logs(columns=)``; target ``none`` leaves a column out."""
    out = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        source, arrow, target = line.partition("->")
        if not arrow or not source.strip() or not target.strip():
            raise ValueError(f"mapping line {n}: expected 'your column -> schema column', got {line!r}")
        target = target.strip()
        out[source.strip()] = None if target.lower() in ("none", "-", "") else target
    return out


def run_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run with its run-level facts (first value logged), for editing."""
    runs = list(pd.unique(df["run"]))
    table = pd.DataFrame({"run": runs})
    for fact in RUN_FACTS:
        if fact in df.columns:
            first = df.dropna(subset=[fact]).groupby("run", sort=False)[fact].first()
            table[fact] = table["run"].map(first)
        else:
            table[fact] = None
        table[fact] = table[fact].astype("string" if fact in _TEXT_FACTS else "Float64")
    return table


def metadata_changes(before: pd.DataFrame, after: pd.DataFrame) -> dict:
    """``{run: {fact: value}}`` for every cell the user changed (blank cells are not changes)."""
    changes: dict = {}
    for i, run in enumerate(before["run"]):
        for fact in RUN_FACTS:
            new = after[fact].iloc[i]
            old = before[fact].iloc[i]
            if pd.isna(new) or (not pd.isna(old) and new == old):
                continue
            if fact in _TEXT_FACTS:
                value = str(new)
            elif fact in _INT_FACTS:
                value = int(new)
            else:
                value = float(new)
            changes.setdefault(str(run), {})[fact] = value
    return changes


def data_section(loaded: Loaded) -> None:
    """Summary, preview, skipped messages and the mapping and metadata forms."""
    df = loaded.df
    runs = df["run"].nunique()
    splits = ", ".join(map(str, pd.unique(df["split"])))
    st.markdown(f"**{loaded.label}**: {len(df):,} rows, {runs} run(s), splits: {splits}; "
                f"columns: {', '.join(map(str, df.columns))}")
    skipped = df.attrs.get("skipped") or []
    with st.expander("Data: preview, column mapping and run metadata", expanded=loaded.uploaded):
        if skipped:
            notes = f"{len(skipped)} note(s) from reading:\n\n" + "\n".join(f"- {m}" for m in skipped[:30])
            # a bundled set's README is skipped by design; an upload's notes (rows dropped,
            # units, renamed runs) are news to the user
            (st.warning if loaded.uploaded else st.caption)(notes)
        st.dataframe(df.head(500), height=240, key=f"preview::{loaded.data_id}")
        left, right = st.columns([1, 2])
        with left:
            _mapping_form(loaded)
        with right:
            _metadata_form(loaded)


def repair_section(loaded: Loaded) -> None:
    """An upload nothing could be read from: the errors are in the sidebar; here the mapping can
    name the loss (or step) column the reader could not find."""
    st.error("The upload could not be read (see the sidebar). If a column holds the loss or the step under "
             "a name the reader does not know, map it here, e.g. `final_metric -> val/loss`.")
    _mapping_form(loaded)


def _mapping_form(loaded: Loaded) -> None:
    key = f"mapping::{loaded.data_id}"
    current = overrides(loaded.data_id).get("columns") or {}
    text = mapping_text(loaded.df) if loaded.df is not None else "\n".join(
        f"{k} -> {v if v is not None else 'none'}" for k, v in current.items())
    with st.form(key):
        st.markdown("**Column mapping** (guessed; correct it and re-read)")
        text = st.text_area("your column -> schema column (`val/loss` names a split; `none` drops)",
                            value=text, height=180, key=key + "::text", placeholder="e.g. final_metric -> val/loss")
        submitted = st.form_submit_button("Re-read with this mapping")
    if submitted:
        try:
            mapping = parse_mapping(text)
        except ValueError as err:
            st.error(str(err))
            return
        overrides(loaded.data_id)["columns"] = mapping or None
        st.rerun()


def _metadata_form(loaded: Loaded) -> None:
    key = f"metadata::{loaded.data_id}"
    before = run_table(loaded.df)
    with st.form(key):
        st.markdown("**Run metadata** (edit a cell to set or correct a run's facts)")
        after = st.data_editor(before, disabled=["run"], hide_index=True, key=key + "::table",
                               num_rows="fixed", height=min(38 * (len(before) + 1) + 4, 300))
        c1, c2 = st.columns(2)
        batch = c1.text_input("Batch size (all runs)", key=key + "::batch", placeholder="sequences per step")
        seq = c2.text_input("Sequence length (all runs)", key=key + "::seq", placeholder="tokens per sequence")
        submitted = st.form_submit_button("Apply metadata and re-read")
    if not submitted:
        return
    saved = overrides(loaded.data_id)
    typed = {}
    for name, label, text in (("batch_size", "Batch size", batch), ("seq_len", "Sequence length", seq)):
        if not text.strip():
            continue
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and value >= 1 and value.is_integer()):
            st.error(f"run metadata: {label} (all runs): expected a whole number of at least 1, got {text.strip()!r}")
            return
        typed[name] = int(value)
    try:
        changes = metadata_changes(before, after)
    except (TypeError, ValueError) as err:
        st.error(f"run metadata: {err}")
        return
    saved.update(typed)  # only once every entry is valid: a bad one changes nothing
    merged = {r: dict(f) for r, f in (saved.get("metadata") or {}).items()}
    for run, facts in changes.items():
        merged.setdefault(run, {}).update(facts)
    saved["metadata"] = merged or None
    st.rerun()
