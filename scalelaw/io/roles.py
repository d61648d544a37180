"""Decide what each column (or tag) of one file is: the step, the run, a loss of some split in
some unit, another schema field, or nothing we keep.

The user's ``columns=`` mapping is applied first and always wins; names it does not cover are
guessed (:mod:`scalelaw.io.columns`). Two columns claiming the loss of one split are resolved
here, with a message naming the one left out; a loss whose name says bits while the user
declared nats stops the read (units are never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scalelaw.io.columns import _loss_rank, _priority, field_of, parse_loss_name, parse_target
from scalelaw.io.report import Report


@dataclass
class Loss:
    """One loss column: its split (None in a long-form table, where a ``split`` column names
    it row by row), the unit it is in and the factor that takes it to nats."""

    split: str | None
    unit: str
    factor: float
    marker: str | None = None   # the unit the column's name claims, if any


@dataclass
class Roles:
    """What each name of one file is."""

    step: str | None = None
    run: str | None = None
    split: str | None = None          # a column holding split names (tidy long form)
    losses: dict[str, Loss] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)   # name -> output column
    dropped: list[str] = field(default_factory=list)  # mapped to None, or a loss left out
    ignored_split: str | None = None  # a split column left out because each loss column names its split

    def mapping(self) -> dict[str, str]:
        """Name -> target, as reported in ``df.attrs["columns"]``."""
        out = {}
        if self.step:
            out[self.step] = "step"
        if self.run:
            out[self.run] = "run"
        if self.split:
            out[self.split] = "split"
        for name, loss in self.losses.items():
            out[name] = "loss" if loss.split is None else f"{loss.split}/loss"
        out.update(self.fields)
        return out


_KEYS = ("step", "run", "split")


def resolve(names, source: str, opts, report: Report, *, default_split: str | None = None,
            long_form_ok: bool = True) -> Roles:
    """Assign a role to each of ``names`` (the columns or tags of the file ``source``).

    Parameters
    ----------
    names : iterable of str
    source : str
        The file, for messages.
    opts : Options
        ``opts.columns`` (user mapping), ``opts.split`` (split of unnamed losses),
        ``opts.units`` (:class:`~scalelaw.io.units.UnitPolicy`).
    default_split : str, optional
        The split a format implies for unnamed losses (e.g. a TensorBoard directory named
        ``validation``); the user's ``split=`` overrides it. Otherwise ``"train"``.
    long_form_ok : bool
        Whether a ``split`` column may make this a tidy long-form table.
    """
    names = [str(n) for n in names]
    mapping = opts.columns
    roles = Roles()
    unnamed = opts.split or default_split or "train"
    # candidates: target -> list of (user?, rank, position, name, marker)
    loss_candidates: dict[str | None, list] = {}
    field_candidates: dict[str, list] = {}
    for position, name in enumerate(names):
        if name in mapping:
            target = mapping[name]
            if target is None:
                roles.dropped.append(name)
                continue
            kind, split = parse_target(target)
            if kind == "loss":
                parsed = parse_loss_name(name)
                if split is None and parsed is not None:
                    split = parsed.split
                marker = parsed.unit if parsed is not None else None
                loss_candidates.setdefault(split, []).append((0, 0, position, name, marker, None))
            else:
                field_candidates.setdefault(kind, []).append((0, 0, position, name))
            continue
        parsed = parse_loss_name(name)
        if parsed is not None:
            loss_candidates.setdefault(parsed.split, []).append(
                (1, _loss_rank(name, parsed), position, name, parsed.unit, parsed.aggregate))
            continue
        guessed = field_of(name)
        if guessed is not None:
            field_candidates.setdefault(guessed, []).append((1, _priority(name, guessed),
                                                             position, name))

    for target, candidates in field_candidates.items():
        candidates.sort()
        users = [c for c in candidates if c[0] == 0]
        if len(users) > 1:
            raise ValueError(f"{source}: columns= maps {[c[3] for c in users]} all to "
                             f"{target!r}; map one of them")
        chosen = candidates[0][3]
        if target in _KEYS:
            setattr(roles, target, chosen)
        else:
            roles.fields[chosen] = target

    long_form = long_form_ok and roles.split is not None and None in loss_candidates
    if roles.split is not None and not long_form:
        report.skip(f"{source}: column {roles.split!r} (split names) ignored: each loss column "
                    "names its own split")
        roles.dropped.append(roles.split)
        roles.ignored_split, roles.split = roles.split, None
    for split, candidates in loss_candidates.items():
        if long_form and split is not None:
            for candidate in candidates:
                roles.dropped.append(candidate[3])
                report.skip(f"{source}: column {candidate[3]!r} left out: the table has a "
                            f"{roles.split!r} column, so its loss is read from the column "
                            "that names no split")
            continue
        effective = split if split is not None or long_form else unnamed
        _choose_loss(roles, split, effective, candidates, source, opts, report)
    return roles


def _choose_loss(roles, split, effective, candidates, source, opts, report) -> None:
    """Keep one loss column for ``split``; say which others were left out and why."""
    units = opts.units
    scored = []
    for user, rank, position, name, marker, aggregate in candidates:
        unit, conflict = units.unit_for(name, effective, marker)
        # a column in the declared unit beats a twin in another (`loss` vs `loss_bits`)
        scored.append(((user, int(conflict), rank, position), name, unit, conflict, marker,
                       aggregate))
    scored.sort(key=lambda s: s[0])
    users = [s for s in scored if s[0][0] == 0]
    if len(users) > 1:
        raise ValueError(f"{source}: columns= maps {[s[1] for s in users]} all to the loss of "
                         f"split {effective!r}; map one of them (or give each a split, e.g. "
                         "'val/loss')")
    _, name, unit, conflict, marker, _ = scored[0]
    # in a long-form table the unit is checked split by split (tidy._split_factors)
    if conflict and effective is not None:
        others = [s[1] for s in scored[1:]]
        also = f" (next to {others})" if others else ""
        raise ValueError(
            f"{source}: column {name!r}{also} is named as a loss in {marker}, but "
            f"loss_unit={units.default!r}: mixed or undeclared units. Pass "
            f"loss_unit={marker!r} to convert it to nats, loss_unit={{{effective!r}: "
            f"{marker!r}}} if only this split is in {marker}, or columns={{{name!r}: None}} "
            "to leave it out")
    roles.losses[name] = Loss(split=effective, unit=unit, factor=units.factor(unit),
                              marker=marker)
    for _, other, _, _, other_marker, aggregate in scored[1:]:
        roles.dropped.append(other)
        if other_marker not in (None, unit):
            why = f"it is in {other_marker}"
        elif aggregate == "epoch":
            why = "it holds epoch means (Lightning's on_epoch)"
        elif aggregate == "step":
            why = "it holds per-batch values (Lightning's on_step)"
        else:
            why = "a second column for the same loss"
        which = f"the {effective!r} loss" if effective else "the loss"
        report.skip(f"{source}: column {other!r} left out: {why}; {which} is read from "
                    f"{name!r} (pass columns={{{other!r}: ...}} to change)")
