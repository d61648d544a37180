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


# ---- 2. sl.Client refuses a malformed base URL at construction -----------------------------------
@pytest.mark.parametrize("url", ["not a url", "http://", "http://:8000", "http://host:abc", "http://host:99999",
                                 "http://bad host:8000", "http://[not-ipv6]:8000", "http://a%b:8000"])
def test_client_refuses_a_malformed_url_naming_it(url):
    with pytest.raises(ValueError) as err:
        sl.Client(url)  # no request is made: the error comes before any connection
    assert repr(url) in str(err.value) and "http://host:port" in str(err.value)


@pytest.mark.parametrize("url, host, port, prefix", [
    ("http://127.0.0.1:8000", "127.0.0.1", 8000, ""), ("localhost:8000/api/", "localhost", 8000, "/api"),
    ("https://example.com", "example.com", 443, ""), ("http://[::1]:8000", "::1", 8000, ""),
    ("http://scalelaw_server:80", "scalelaw_server", 80, "")])
def test_client_accepts_well_formed_urls(url, host, port, prefix):
    c = sl.Client(url)
    assert (c._host, c._port, c._prefix) == (host, port, prefix)


# ---- 3. sl.fit(target=[...]) names target and what was given --------------------------------------
def _grid_points():
    import numpy as np

    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e8, 5), np.geomspace(1e8, 1e10, 5)))
    return {"n_params": N, "n_tokens": D, "loss": 1.8 + 400 / N ** 0.34 + 410 / D ** 0.28, "x": N * D}


@pytest.mark.parametrize("by", [None, "n_params"])
@pytest.mark.parametrize("target", [["loss"], ("loss",), None, 3])
def test_fit_target_must_be_one_column_name(target, by):
    with pytest.raises(TypeError) as err:
        sl.fit("chinchilla", _grid_points(), target=target, by=by)
    message = str(err.value)
    assert message.startswith("target must be one column name (a string)") and repr(target) in message


# ---- 4. sl.compare refuses a per-law inputs entry that is not a dict --------------------------------
def test_compare_refuses_a_per_law_mapping_that_is_not_a_dict():
    with pytest.raises(TypeError) as err:
        sl.compare(["chinchilla", "kaplan_nd"], _grid_points(), inputs={"chinchilla": "x"})
    message = str(err.value)
    assert "inputs['chinchilla']" in message and "must be a dict" in message and "'N': ..., 'D': ..." in message
    assert "got str 'x'" in message


def test_compare_refuses_a_per_law_mapping_for_a_law_not_compared():
    with pytest.raises(ValueError, match=r"inputs\['chinchila'\] is a per-law mapping, but 'chinchila' is not one "
                                         r"of the laws compared \(chinchilla, kaplan_nd\)"):
        sl.compare(["chinchilla", "kaplan_nd"], _grid_points(), inputs={"chinchila": {"N": "x"}})


@pytest.mark.filterwarnings("ignore")
def test_compare_per_law_and_one_mapping_forms_still_work():
    # the per-law form reaches its law: power_law's x is mapped to n_params, so it fits (its
    # default column 'flops' is absent); the one-mapping form gives each law the entries it has
    table = sl.compare(["chinchilla", "power_law"], _grid_points(),
                       inputs={"chinchilla": {"N": "n_params", "D": "n_tokens"}, "power_law": {"x": "n_params"}},
                       holdout=("N", 0.2))
    assert list(table.index) == ["chinchilla", "power_law"]
    table = sl.compare(["chinchilla"], _grid_points(), inputs={"N": "n_params", "D": "n_tokens"}, holdout=("N", 0.2))
    assert table.loc["chinchilla", "n_points"] == 25


# ---- 5. `scalelaw fit --fix E=-1`: the error names the flag, not fixed['E'] --------------------------
def _points_csv(tmp_path):
    import pandas as pd

    path = tmp_path / "points.csv"
    pd.DataFrame(_grid_points()).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("flag, said", [
    ("E=-1", "--fix E=-1 is outside the range the law allows"),
    ("E=-1.5", "--fix E=-1.5 is outside the range the law allows"),
    ("E=nan", "--fix E must be finite, got nan"),
    ("Q=1", "--fix Q=VALUE: law 'chinchilla' has no parameter 'Q'; parameters: E, A, alpha, B, beta")])
def test_fit_fix_error_names_the_flag(tmp_path, capsys, flag, said):
    assert main(["fit", "chinchilla", _points_csv(tmp_path), "--fix", flag]) == 2
    err = capsys.readouterr().err
    assert said in err and "fixed" not in err


def test_cli_words_leave_python_fixed_messages_elsewhere_alone():
    from scalelaw._cli_commands import cli_words

    assert cli_words("fixed['E'] = 1e+20 is outside") == "--fix E=1e+20 is outside"
    assert cli_words('spec.fixed["E"] and prefixed[\'E\']') == 'spec.fixed["E"] and prefixed[\'E\']'


# ---- 6. dcpt: r's doc says what the law accepts, [0, 1], as its errors do ----------------------------
def _dcpt_points(side):
    import numpy as np

    from scalelaw.laws.dcpt import dcpt

    N, D, r = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e8, 4), np.geomspace(1e8, 1e10, 4),
                                              np.array([0.0, 0.25, 0.5, 0.75, 1.0])))
    truth = dict(E=1.5, A=300.0, alpha=0.3, B=200.0, eta=0.4, beta=0.3, C=0.05, gamma=0.3)
    share = r if side == "domain" else 1.0 - r
    return {"n_params": N, "n_tokens": D, "mix_ratio": r, "loss": dcpt(N, D, share, **truth)}, truth


def test_dcpt_doc_states_the_domain_its_checks_enforce():
    import scalelaw.laws.dcpt as module

    r = next(i for i in sl.get_law("dcpt").inputs if i.name == "r")
    assert r.domain() == "in [0, 1]" and r.domain() in r.doc
    assert "r in [0, 1]" in module.__doc__ and "(0, 1]" not in module.__doc__


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("side", ["domain", "general"])
def test_dcpt_accepts_both_ends_of_r_and_refuses_beyond(side):
    import numpy as np

    points, truth = _dcpt_points(side)
    fit = sl.fit("dcpt", points, side=side)  # rows at r = 0 and r = 1 included
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-3)
    pred = fit.predict({"N": [1e7, 1e7], "D": [1e9, 1e9], "r": [0.0, 1.0]}, warn=False)
    assert np.all(np.isfinite(pred))
    points["mix_ratio"] = np.where(points["mix_ratio"] == 1.0, 1.5, points["mix_ratio"])
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        sl.fit("dcpt", points, side=side)


# ---- 7. -o is refused when it is a file a glob input matches ------------------------------------
def _log_dir(tmp_path):
    """One CSV log per run (step, loss, n_params, n_tokens): what read_logs reads from a glob."""
    import numpy as np
    import pandas as pd

    logs = tmp_path / "logs"
    logs.mkdir()
    for i, (n, d) in enumerate((n, d) for n in np.geomspace(1e6, 1e8, 5) for d in np.geomspace(1e8, 1e10, 5)):
        steps = np.arange(1, 4)
        tokens = d * steps / 3
        pd.DataFrame({"step": steps, "loss": 1.8 + 400 / n ** 0.34 + 410 / tokens ** 0.28, "n_params": n,
                      "n_tokens": tokens}).to_csv(logs / f"run{i:02d}.csv", index=False)
    return logs


def test_fit_refuses_an_output_that_a_glob_input_matches(tmp_path, capsys):
    logs = _log_dir(tmp_path)
    target = logs / "run03.csv"
    before = target.read_bytes()
    pattern = str(logs / "*.csv")
    assert main(["fit", "chinchilla", pattern, "--final-points", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"-o {str(target)!r} is the input file" in err and f"(matched by {pattern!r})" in err
    assert target.read_bytes() == before  # the log the fit would have read is still there
    # a new file beside the logs is no input: the fit runs and saves there
    assert main(["fit", "chinchilla", pattern, "--final-points", "-o", str(logs / "fit.json")]) == 0
    assert sl.load_fit(logs / "fit.json").law.name == "chinchilla"


def test_not_an_input_expands_recursive_patterns_and_spares_other_files(tmp_path):
    from scalelaw._cli_commands import _not_an_input

    logs = _log_dir(tmp_path)
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match="run07.csv"):
        _not_an_input(str(logs / "run07.csv"), "-o", str(tmp_path / "**" / "run0?.csv"))
    _not_an_input(str(tmp_path / "other.json"), "-o", str(tmp_path / "**" / "*.csv"))  # matched by nothing: fine


def test_a_fit_saved_beside_its_logs_is_recognised_on_the_next_read(tmp_path):
    """`scalelaw fit chinchilla LOGS -o LOGS/fit.json` then reading LOGS again: the saved fit was
    skipped as "a config file that is not beside any log (a sweep spec?)"; it is now named for what
    it is, quietly, like the folder's README and index, and the logs read as before."""
    import shutil
    import warnings
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "data" / "cpu_decoder_sizes"
    logs = sorted(src.glob("*.jsonl"))[:8]
    for f in logs:
        shutil.copy(f, tmp_path / f.name)
    before = sl.read_logs(tmp_path)
    pts = sl.final_points(before, split="val")
    fit = sl.fit("chinchilla", pts, inputs={"N": "n_params", "D": "n_tokens"})
    fit.save(tmp_path / "fit.json")
    (tmp_path / "iso.json").write_text('{"format": "scalelaw-isoflop", "version": 2}')  # its format key
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        after = sl.read_logs(tmp_path)
    said = " ".join(str(w.message) for w in seen)
    assert "sweep spec" not in said and "fit.json" not in said and "iso.json" not in said
    assert len(after) == len(before) and after["run"].nunique() == len(logs)
