"""Saved IsoFLOP and envelope results are sealed as saved fits are: a sha256 of every section.

Bug (audit): a saved IsoFLOP result carried no integrity record, so an edited ``params`` or
``optima`` loaded silently and predicted from the edited numbers. Layout version 2 seals every
section with :func:`scalelaw.integrity.seal` (the fit's own helper); version-1 files still load,
with a warning that nothing in them could be checked.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.integrity import INTEGRITY_KEY, SavedFitWarning, section_hashes
from scalelaw.isoflops import FORMAT_VERSION

from conftest import training_curves

E, A, ALPHA, B, BETA = 1.69, 406.4, 0.34, 410.7, 0.28


def loss_of(N, D):
    return E + A / N ** ALPHA + B / D ** BETA


@pytest.fixture(scope="module")
def iso():
    """Approach 2 on seven budgets of Hoffmann's law: enough for draws and a calibration."""
    rng = np.random.default_rng(3)
    rows = []
    for C in [1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21]:
        n_opt = 0.6 * (C / 6) ** 0.45
        for N in n_opt * np.geomspace(1 / 4, 4, 6):
            rows.append({"n_params": N, "flops": C,
                         "loss": loss_of(N, C / (6 * N)) * np.exp(0.002 * rng.standard_normal())})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sl.isoflop(pd.DataFrame(rows), inputs={"N": "n_params", "C": "flops"}, n_boot=30)


@pytest.fixture(scope="module")
def env():
    """Approach 1 (the envelope of training curves): the same saved format."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sl.envelope(training_curves(loss_of, 5, 3, 10), x="flops", n_boot=20)


def _saved(result, tmp_path, name="r.json") -> dict:
    result.save(tmp_path / name)
    return json.loads((tmp_path / name).read_text())


def _write(tmp_path, d, name="edited.json"):
    path = tmp_path / name
    path.write_text(json.dumps(d, indent=1))
    return path


def _load_quietly(path):
    """Load, failing on any warning (a sealed file of this version must load without one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return sl.load_isoflop(path)


def _same_predictions(a, b, C):
    for kind in ("prediction", "parameter"):
        with warnings.catch_warnings(record=True) as wa:
            warnings.simplefilter("always")
            pa = a.predict(C, level=0.8, kind=kind)
        with warnings.catch_warnings(record=True) as wb:
            warnings.simplefilter("always")
            pb = b.predict(C, level=0.8, kind=kind)
        assert [str(w.message) for w in wa] == [str(w.message) for w in wb]  # the same extrapolation warning
        assert set(pa) == set(pb)
        for k in pa:
            same = pa[k] == pb[k] if isinstance(pa[k], (str, float)) else np.array_equal(pa[k], pb[k], equal_nan=True)
            assert same, (kind, k)


@pytest.mark.parametrize("which", ["iso", "env"])
def test_round_trip_is_sealed_and_identical(which, request, tmp_path):
    result = request.getfixturevalue(which)
    d = _saved(result, tmp_path)
    assert d["version"] == FORMAT_VERSION == 2
    # every section is sealed, and the record is what the file holds now
    assert set(d[INTEGRITY_KEY]) == set(d) - {INTEGRITY_KEY}
    assert d[INTEGRITY_KEY] == section_hashes(d)
    back = _load_quietly(tmp_path / "r.json")
    assert back.params == result.params and back.warnings == result.warnings and back.level == result.level
    pd.testing.assert_frame_equal(back.optima, result.optima, check_dtype=False)
    pd.testing.assert_frame_equal(back.ci(), result.ci())
    _same_predictions(result, back, np.array([float(result.optima["C"].min()), 1e22]))
    assert (result.calibration is None) == (back.calibration is None)
    # saving the loaded result again writes the same file (nothing drifts through a round trip)
    assert _saved(back, tmp_path, "again.json") == d


@pytest.mark.parametrize("section, edit", [
    ("params", lambda d: d["params"].update(a=d["params"]["a"] * 1.01)),
    ("optima", lambda d: d["optima"]["N_opt"].__setitem__(0, d["optima"]["N_opt"][0] * 2)),
    ("draws", lambda d: d["draws"]["a"].__setitem__(0, 0.9)),
    ("calibration", lambda d: d.__setitem__("calibration", None)),
    ("level", lambda d: d.__setitem__("level", 0.5)),
    ("warnings", lambda d: d["warnings"].append("a note added by hand")),
])
def test_an_edited_section_is_refused_naming_it(iso, tmp_path, section, edit):
    d = _saved(iso, tmp_path)
    assert iso.calibration is not None  # so that removing it is an edit
    edit(d)
    with pytest.raises(ValueError, match=rf"edited.json: saved IsoFLOP result is corrupted or was edited: "
                                         rf"section\(s\) {section} no longer match"):
        sl.load_isoflop(_write(tmp_path, d))


def test_an_edited_envelope_is_refused(env, tmp_path):
    d = _saved(env, tmp_path)
    d["params"]["k"] *= 1.5
    d["optima"]["loss_opt"][-1] = 1.0
    with pytest.raises(ValueError, match=r"section\(s\) optima, params no longer match"):
        sl.load_isoflop(_write(tmp_path, d))


def test_a_missing_or_added_section_or_record_is_refused(iso, tmp_path):
    d = _saved(iso, tmp_path)
    with pytest.raises(ValueError, match=r"missing key\(s\) draws"):
        sl.load_isoflop(_write(tmp_path, {k: v for k, v in d.items() if k != "draws"}))
    with pytest.raises(ValueError, match=r"section\(s\) calibration no longer match"):  # an optional section
        sl.load_isoflop(_write(tmp_path, {k: v for k, v in d.items() if k != "calibration"}))
    with pytest.raises(ValueError, match=r"section\(s\) note no longer match"):
        sl.load_isoflop(_write(tmp_path, {**d, "note": "hand-tuned"}))
    with pytest.raises(ValueError, match=r"integrity record \('integrity'\) is missing"):
        sl.load_isoflop(_write(tmp_path, {k: v for k, v in d.items() if k != INTEGRITY_KEY}))
    # a sealed file whose version was turned down to 1 to skip the check
    with pytest.raises(ValueError, match=r"layout version 1 carries no integrity record, but this file has one"):
        sl.load_isoflop(_write(tmp_path, {**d, "version": 1}))


@pytest.mark.parametrize("which", ["iso", "env"])
def test_a_version_1_file_loads_with_a_warning(which, request, tmp_path):
    """Files saved before the seal (layout version 1: the same sections, no record) are not lost."""
    result = request.getfixturevalue(which)
    d = _saved(result, tmp_path)
    old = {k: v for k, v in d.items() if k != INTEGRITY_KEY}
    old["version"] = 1
    path = _write(tmp_path, old, "v1.json")
    with pytest.warns(SavedFitWarning, match=r"layout version 1, which carries no seal"):
        back = sl.load_isoflop(path)
    assert back.params == result.params and back.warnings == result.warnings
    _same_predictions(result, back, np.array([1e21, 1e22]))
    # saved again, it is sealed
    assert _saved(back, tmp_path, "resealed.json")[INTEGRITY_KEY]


def test_a_newer_version_is_refused(iso, tmp_path):
    d = _saved(iso, tmp_path)
    d["version"] = FORMAT_VERSION + 1
    with pytest.raises(ValueError, match=rf"edited.json: .*layout version {FORMAT_VERSION + 1}, newer than this "
                                         rf"scalelaw reads \({FORMAT_VERSION};"):
        sl.load_isoflop(_write(tmp_path, d))


def test_save_is_atomic_and_names_a_missing_folder(iso, tmp_path):
    path = tmp_path / "iso.json"
    path.write_text("old")
    iso.save(path)
    assert json.loads(path.read_text())["format"] == "scalelaw-isoflop"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iso.json"]  # no temporary left behind
    with pytest.raises(ValueError, match=r"IsoFLOP result file .*folder .* does not exist"):
        iso.save(tmp_path / "nowhere" / "iso.json")


def test_a_file_from_a_newer_scalelaw_warns_as_for_fits(iso, tmp_path, monkeypatch):
    """A sealed result written by a newer scalelaw loads with the same warning a saved fit gives
    (its answers may differ from that version's); one written by this version loads silently."""
    import copy

    newer = copy.copy(iso)
    monkeypatch.setattr(newer, "version", "99.0.0")
    newer.save(tmp_path / "newer.json")
    with pytest.warns(SavedFitWarning, match=r"saved IsoFLOP result: written by scalelaw 99\.0\.0, newer than this one"):
        sl.load_isoflop(tmp_path / "newer.json")
    iso.save(tmp_path / "same.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SavedFitWarning)
        sl.load_isoflop(tmp_path / "same.json")
