"""Follow-ups of the session-12 newcomer audit: each test failed before its fix."""

from __future__ import annotations

import pytest

import scalelaw as sl
from scalelaw.cli import main


# ---- 1. `scalelaw laws NAME` describes the named laws ---------------------------------------------
def test_laws_name_prints_each_named_laws_details(capsys):
    names = ["chinchilla", "dcpt", "lr_annealing"]
    assert main(["laws", *names]) == 0
    out = capsys.readouterr().out
    for name in names:
        law = sl.get_law(name)
        block = out.split(f"{name}: ", 1)[1]  # from that law's heading on
        assert block.startswith(law.formula)
        assert law.source in block
        for inp in law.inputs:  # each input with the column it reads by default
            assert f"{inp.name:<10} {inp.doc}; column {inp.column}" in block
        for p in law.params:
            assert f"{p.name:<10} {p.doc}; in " in block
    assert "alpha      model-size exponent; in (0, 5]" in out  # chinchilla's bound, as the fit enforces it
    assert "held at 0.999 by default" in out  # lr_annealing's momentum


def test_laws_unknown_name_is_an_error_listing_the_laws(capsys):
    assert main(["laws", "chinchilla", "chinchila"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing half-printed before the error
    assert "unknown law 'chinchila'" in captured.err
    assert all(name in captured.err for name in sl.laws())


def test_laws_without_names_still_lists_every_law(capsys):
    assert main(["laws"]) == 0
    out = capsys.readouterr().out
    assert all(line.split()[0] in sl.laws() for line in out.splitlines() if line and not line[0].isspace())
    assert len([line for line in out.splitlines() if line and not line[0].isspace()]) == len(sl.laws())
