"""Turn a table (or a set of tagged series) into tidy rows: one per (step, split) with the
loss, plus per-step fields (lr, tokens, epoch ...) joined on the step.

Two shapes of table occur:

* long form (already tidy): a ``split`` column and one loss column; rows are kept as they are,
  other columns included (a ``lang`` column stays available for grouped fits);
* wide form (most training stacks): one column per metric, often sparse (Lightning writes train
  and val metrics on different rows). Each loss column becomes the rows of its split, blank
  cells meaning "not logged here"; per-step fields are taken from whichever row of that step
  has them. Columns that are neither are not kept: for plain tables a note names them and
  ``df.attrs["columns"]`` lists them with target ``None``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from scalelaw.io import roles as roles_mod
from scalelaw.io.columns import STRING_COLUMNS
from scalelaw.io.options import Options, Parsed
from scalelaw.io.report import Report, preview
from scalelaw.io.schema import to_number
from scalelaw.io.sources import NotALog
from scalelaw.io.tabular import Table


def require(roles, names, source: str, need_step: bool = True) -> None:
    """Raise :class:`NotALog` naming the file and its columns when no loss (or step) is found."""
    shown = list(names)
    if len(shown) > 30:
        shown = shown[:30] + [f"... ({len(names)} in all)"]
    if not roles.losses:
        raise NotALog(f"{source}: no loss column; columns are {shown}; pass "
                      "columns={'yourcol': 'loss'} (or 'val/loss' for a validation loss)")
    if need_step and roles.step is None:
        raise NotALog(f"{source}: no step column; columns are {shown}; pass "
                      "columns={'yourcol': 'step'}")


def values_of(series: pd.Series, target: str) -> pd.Series:
    """A field's values: text for string fields, float64 for the rest."""
    if target in STRING_COLUMNS:
        return series.astype("object").where(series.notna())
    return to_number(series)


def table_to_tidy(table: Table, source: str, opts: Options, report: Report, *,
                  default_split: str | None = None, run: str | None = None,
                  note_blank: bool = False, note_unused: bool = False) -> Parsed:
    """Tidy rows of one table.

    Parameters
    ----------
    table : Table
    source : str
        The file, for messages.
    opts : Options
    default_split : str, optional
        Split a format implies for unnamed losses (the user's ``split=`` wins).
    run : str, optional
        A run name the format knows (W&B wide exports), stored in a ``run`` column.
    note_blank : bool
        Say which rows of a wide table were skipped for a blank loss (plain tables, where a
        row is something the user wrote; formats whose summary rows carry no loss leave it off).
    note_unused : bool
        Say which columns of a wide table are not read (and list them as ``None`` in
        ``df.attrs["columns"]``); formats with many bookkeeping columns (HF, W&B) leave it off.
    """
    frame = table.frame
    names = list(frame.columns)
    opts.seen.update(set(names) & set(opts.columns))
    roles = roles_mod.resolve(names, source, opts, report, default_split=default_split)
    try:
        require(roles, names, source)
    except NotALog as err:
        absent = sorted(set(opts.columns) - set(names))
        if absent:  # a mistyped mapping is why the loss is missing: say so here, not only after every file
            raise NotALog(f"{err}; columns= names {absent}, which this file does not have") from None
        raise
    _refuse_mixed_splits(table, roles, source)
    _note_non_numbers(table, roles, source, report)
    if roles.split is not None:
        out = _long_form(table, roles, source, opts, report)
    else:
        out = _wide_form(table, roles)
        if note_blank and len(roles.losses) == 1:
            # several loss columns: a sparse log, where a blank cell means "not logged here"
            _note_blank_losses(table, roles, source, report)
    if run is not None:
        out.insert(0, "run", run)
    columns = roles.mapping()
    if note_unused and roles.split is None:
        columns.update(_note_unused(names, columns, roles, source, report))
    return Parsed(out, columns=columns)


def _refuse_mixed_splits(table: Table, roles, source: str) -> None:
    """A split column left out (the loss column names its split, e.g. ``columns={'metric':
    'val/loss'}`` or a column called ``val_loss``) while the rows that carry that loss hold several
    splits: every row would be read as that one split, and the other splits' rows would then pass
    for repeats of its steps (a resumed run) of which the last is kept, so train losses could be
    read as validation ones. Refused, with the mapping that reads each row's split."""
    if roles.ignored_split is None or len(roles.losses) != 1:
        return
    (loss_col, loss), = roles.losses.items()
    carries = ~table.blank(loss_col)
    splits = table.frame[roles.ignored_split][carries].dropna().astype("str").str.strip()
    found = sorted(set(splits[splits != ""]))
    if len(found) > 1:
        raise ValueError(
            f"{source}: column {roles.ignored_split!r} holds several splits ({', '.join(map(repr, found))}) "
            f"but the loss column {loss_col!r} is read as the {loss.split!r} loss (its name or columns= says "
            f"so), so every row would be read as {loss.split!r}; map it to the plain loss, columns="
            f"{{{loss_col!r}: 'loss'}}, so that {roles.ignored_split!r} gives each row's split")


def _note_unused(names, used, roles, source: str, report: Report) -> dict:
    """Columns of a wide table that are no step, run, loss or schema field are not kept (the
    tidy schema has one row per step and split, so a per-row metric has nowhere to go): name
    them, once per file, with the mapping that would read one."""
    unused = [n for n in names if n not in used and n not in roles.dropped
              and not n.endswith(("__MIN", "__MAX"))]  # W&B's companions: ignored by design
    if unused:
        shown = preview([repr(n) for n in unused])
        report.skip(f"{source}: column(s) {shown} not used: not a step, run, loss or schema "
                    f"field (n_params, n_tokens, lr, ...); pass columns={{{unused[0]!r}: "
                    f"'n_params'}} (say) to read one, or columns={{{unused[0]!r}: None}} to "
                    "leave it out without this note")
    return {n: None for n in unused}


def _long_form(table: Table, roles, source: str, opts: Options, report: Report):
    frame = table.frame
    (loss_col, loss), = roles.losses.items()
    blank = table.blank(loss_col)
    split = frame[roles.split]
    no_split = (split.isna() | (split.astype("str") == "")).to_numpy()
    if blank.any():
        steps = frame.loc[blank, roles.step].tolist()
        report.skip(f"{source}: {int(blank.sum())} rows have an empty or null {loss_col!r} "
                    f"(many writers write NaN so) at steps {preview(steps)}; dropped")
    if (no_split & ~blank).any():
        report.skip(f"{source}: {int((no_split & ~blank).sum())} rows have no "
                    f"{roles.split!r} value; dropped")
    keep = ~(blank | no_split)
    if not keep.all():
        frame = frame[keep]
    rename = {roles.step: "step", roles.split: "split", loss_col: "loss", **roles.fields}
    if roles.run:
        rename[roles.run] = "run"
    targets = set(rename.values())
    shadowed = [c for c in frame.columns if c in targets and c not in rename]
    for column in shadowed:
        source_col = next(k for k, v in rename.items() if v == column)
        report.skip(f"{source}: column {column!r} left out: {source_col!r} is read as "
                    f"{column!r}")
    kept = [c for c in frame.columns if c not in roles.dropped and c not in shadowed]
    out = frame[kept].rename(columns=rename)
    out["split"] = out["split"].astype("str")
    values = to_number(out["loss"])
    factors = _split_factors(loss_col, loss, out["split"], source, opts)
    out["loss"] = values if factors is None else values * factors
    for target in roles.fields.values():
        out[target] = values_of(out[target], target)
    out["_row"] = np.arange(len(out))
    return out


_NOT_A_VALUE = {"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity",
                "+infinity", "none", "null", "na", "n/a"}


def _note_non_numbers(table: Table, roles, source: str, report: Report) -> None:
    """A numeric field (n_params, lr, n_tokens ...) holding text that is not a number is read
    as blank: name the column, the first rows and values, so a typo like ``2e6x`` is heard
    about here rather than as a puzzling fit error later."""
    frame = table.frame
    for name, target in roles.fields.items():
        if target in STRING_COLUMNS or pd.api.types.is_numeric_dtype(frame[name]):
            continue
        raw = frame[name]
        text = raw.astype("object").where(~table.blank(name))
        bad = to_number(raw).isna().to_numpy() & text.notna().to_numpy()
        bad &= ~text.astype("str").str.strip().str.lower().isin(_NOT_A_VALUE).to_numpy()
        if not bad.any():
            continue
        rows = np.flatnonzero(bad) + 1
        values = text[bad].tolist()
        shown = preview([f"{v!r} at data row {r}" for v, r in zip(values, rows)], limit=3)
        hint = ""
        if any(isinstance(v, str) and _THOUSANDS.fullmatch(v.strip()) for v in values):
            # 200,000: digit groups, not a decimal comma (that reading would make it 200.0)
            hint = " (a thousands separator? write plain digits, e.g. 200000)"
        elif any(isinstance(v, str) and _DECIMAL_COMMA.fullmatch(v.strip()) for v in values):
            hint = " (a decimal comma? write numbers with '.')"
        read_as = "" if name == target else f" (read as {target})"
        report.skip(f"{source}: column {name!r}{read_as} holds {len(rows)} value(s) that are "
                    f"not numbers: {shown}{hint}; read as blank")


_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+(?:[eE][-+]?\d+)?")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+")


def _note_blank_losses(table: Table, roles, source: str, report: Report) -> None:
    """Rows of a wide table with no loss in any loss column are not kept. In a sparse log
    (Lightning, several metrics logged on different rows) such a row's fields still reach the
    loss rows of its step, so only rows whose step has no loss anywhere lose something: name
    them."""
    frame = table.frame
    no_loss = np.logical_and.reduce([table.blank(name) for name in roles.losses])
    no_loss &= ~table.blank(roles.step)
    if not no_loss.any():
        return
    steps = to_number(frame[roles.step])
    keys = [steps] + ([frame[roles.run].astype("object")] if roles.run else [])
    index = pd.MultiIndex.from_arrays(keys)
    logged = set(index[~no_loss])
    lost = no_loss & ~np.fromiter((k in logged for k in index), bool, len(frame))
    if not lost.any():
        return
    rows = np.flatnonzero(lost) + 1
    names = [repr(name) for name in roles.losses]
    columns = (f"the loss column {names[0]}" if len(names) == 1
               else f"any loss column ({', '.join(names)})")  # kept general for callers
    step_values = [int(v) if float(v).is_integer() else v for v in steps[lost]]
    report.skip(f"{source}: {len(rows)} row(s) have no value in {columns} "
                f"(a blank cell): data row(s) {preview(rows)} (step(s) "
                f"{preview(step_values)}); skipped")


def _split_factors(column: str, loss, splits: pd.Series, source: str, opts: Options):
    """Per-row factor to nats when the unit depends on the split (``loss_unit`` by split)."""
    units = opts.units
    factors = {}
    for split in splits.unique():
        unit, conflict = units.unit_for(column, split, loss.marker)
        if conflict:
            raise ValueError(
                f"{source}: column {column!r} is named as a loss in {loss.marker}, but "
                f"loss_unit={units.default!r}; pass loss_unit={loss.marker!r} to convert it, "
                f"or loss_unit={{{column!r}: 'nats'}} if the name is wrong")
        factors[split] = units.factor(unit)
    if all(f == 1.0 for f in factors.values()):
        return None
    return splits.map(factors).astype("float64")


def _wide_form(table: Table, roles) -> pd.DataFrame:
    frame = table.frame
    keys = ["step"] + (["run"] if roles.run else [])
    key_values = {"step": frame[roles.step]}
    if roles.run:
        key_values["run"] = frame[roles.run].astype("object")
    key_blank = table.blank(roles.step)
    pieces = []
    rows = np.arange(len(frame))
    for name, loss in roles.losses.items():
        # a blank cell means "not logged on this row"; a logged NaN stays and is reported
        mask = ~table.blank(name)
        piece = {k: v[mask] for k, v in key_values.items()}
        piece["split"] = loss.split
        piece["loss"] = to_number(frame[name][mask]) * loss.factor
        piece["_row"] = rows[mask]
        pieces.append(pd.DataFrame(piece))
    out = pd.concat(pieces, ignore_index=True)
    if not roles.fields:
        return out
    extra = pd.DataFrame({k: v for k, v in key_values.items()})
    extra["step"] = to_number(extra["step"])
    for name, target in roles.fields.items():
        extra[target] = values_of(frame[name], target)
    if not extra.duplicated(subset=keys).any():
        # one row per step (a dense log): each loss row's fields are on its own table row
        taken = extra.drop(columns=keys).iloc[out["_row"].to_numpy()].reset_index(drop=True)
        return pd.concat([out, taken], axis=1)
    out["step"] = to_number(out["step"])
    return join_fields(out, extra[~key_blank], keys)


def join_fields(rows: pd.DataFrame, fields: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Attach per-step fields to loss rows; for each key the last non-blank value counts."""
    names = [c for c in fields.columns if c not in keys]
    fields = fields.dropna(subset=names, how="all")
    if fields.empty:
        return rows
    if fields.duplicated(subset=keys).any():
        fields = fields.groupby(keys, sort=False, dropna=False)[names].last().reset_index()
    return rows.merge(fields, on=keys, how="left", sort=False)
