"""Defects found by walking the app's user paths (issue: app audit), each pinned by a test.

Driven with ``streamlit.testing.v1.AppTest`` on the real page script; data are small synthetic
sets written to ``tmp_path`` (or the app fixtures), so each test fits in a few seconds.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
pytestmark = pytest.mark.filterwarnings("ignore::scalelaw.io.ReadLogsWarning")
from streamlit.testing.v1 import AppTest  # noqa: E402

from conftest import isoflop_upload_csv  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app" / "streamlit_app.py"
FIXTURES = REPO / "tests" / "fixtures" / "app" / "data"
sys.path.insert(0, str(REPO / "app"))


def start() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=120).run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def params(at: AppTest) -> pd.DataFrame:
    return next(t.value for t in at.table if "parameter" in t.value.columns).set_index("parameter")


def metric(at: AppTest, label_start: str) -> str:
    found = [m.value for m in at.metric if m.label.startswith(label_start)]
    assert found, f"no metric {label_start!r}; metrics: {[m.label for m in at.metric]}"
    return found[0]


@pytest.fixture
def two_sizes(tmp_path, monkeypatch):
    """The lr_annealing fixture (one model, three schedules) at two model sizes: the larger one's
    losses are 0.8x the smaller's, i.e. lr_annealing with L0, A, C scaled by 0.8 (L0 = 1.28)."""
    small = pd.read_csv(FIXTURES / "b_lr_schedules_demo" / "curves.csv")
    large = small.assign(run=small["run"] + "_large", n_params=4e6, loss=small["loss"] * 0.8)
    root = tmp_path / "data"
    (root / "two_sizes").mkdir(parents=True)
    (root / "two_sizes" / "README.md").write_text("# two_sizes: three schedules at two model sizes (for `lr_annealing`)\n")
    pd.concat([small, large]).to_csv(root / "two_sizes" / "curves.csv", index=False)
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(root))
    return root / "two_sizes"


def test_schedule_law_on_two_model_sizes_fits_one_size_and_the_snippet_agrees(two_sizes, monkeypatch):
    """Before: a schedule sweep over two sizes (data/cpu_schedules) was fitted as one model, with
    the library's warning 'fit each size on its own' and no way to do so on the page."""
    at = start()
    assert_clean(at)
    scope = "bundled:two_sizes::lr_annealing"
    size = at.selectbox(key=f"{scope}::size")
    assert size.value == 4e6  # a schedule law starts on the largest size
    assert not any("share one parameter set" in w.value for w in at.warning)
    n_val = int((pd.read_csv(two_sizes / "curves.csv").query("split == 'val' and n_params == 4e6")).shape[0])
    assert metric(at, "points fitted") == str(n_val)
    assert params(at).loc["L0", "value"] == pytest.approx(1.6 * 0.8, rel=0.03)
    # the reproducing snippet keeps the same runs and gives the same parameters
    code = next(c.value for c in at.code if "import scalelaw as sl" in c.value)
    assert 'df = df[df["n_params"] == 4000000.0]' in code
    scope_vars: dict = {}
    exec(compile(code, "snippet", "exec"), scope_vars)  # noqa: S102 - our own generated code
    shown = params(at)["value"]
    for name, value in scope_vars["fit"].params.items():
        assert value == pytest.approx(shown[name], rel=1e-6)
    # all sizes together is still a choice, and then the library says why it is a poor one
    at.selectbox(key=f"{scope}::size").select_index(0)  # "all 2 sizes together"
    at.number_input(key=f"{scope}::n_boot").set_value(0)
    next(b for b in at.button if b.label == "Fit").click()
    at.run()
    assert_clean(at)
    assert metric(at, "points fitted") == str(2 * n_val)
    assert any("share one parameter set" in w.value for w in at.warning)


def test_laws_over_model_size_get_no_size_picker(two_sizes):
    """chinchilla (N is an input) fits across sizes: no picker that would cut its data."""
    from slapp.selection import model_sizes

    assert model_sizes(pd.read_csv(two_sizes / "curves.csv")) == [1e6, 4e6]
    at = start()
    at.selectbox(key="law::bundled:two_sizes").set_value("chinchilla").run()
    assert not [s for s in at.selectbox if (s.key or "").endswith("::size")]


def test_bad_batch_size_in_the_metadata_form_names_the_field_and_changes_nothing(tmp_path, monkeypatch):
    """Before: 'run metadata: could not convert string to float: 'lots'' (no field named), and
    '2.5' was silently truncated to a batch size of 2."""
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(tmp_path / "none"))
    csv = "step,loss\n" + "".join(f"{s},{3.0 * s ** -0.1:.5f}\n" for s in range(100, 1100, 100))
    at = start()
    at.file_uploader(key="uploads").set_value([("curve.csv", csv.encode(), "text/csv")])
    at.run()
    assert_clean(at)
    def batch():
        return next(t for t in at.text_input if (t.key or "").endswith("::batch"))

    for bad in ("lots", "2.5", "0"):
        batch().input(bad)
        next(b for b in at.button if b.label.startswith("Apply metadata")).click()
        at.run()
        assert_clean(at)
        shown = "\n".join(e.value for e in at.error)
        assert f"Batch size (all runs): expected a whole number of at least 1, got '{bad}'" in shown
        assert "batch_size" not in at.session_state["read_overrides"][next(iter(at.session_state["read_overrides"]))]
    batch().input("32")
    next(b for b in at.button if b.label.startswith("Apply metadata")).click()
    at.run()
    assert_clean(at)
    saved = at.session_state["read_overrides"]
    assert any(v.get("batch_size") == 32 for v in saved.values())


def test_picker_lists_exactly_the_sets_with_committed_logs_described_by_their_readme():
    """The real data/: every listed set has logs committed in git (a set of pilots with no logs
    is not offered), and its one-line description is its README's title."""
    import subprocess

    from slapp import sources

    try:
        tracked = subprocess.run(["git", "ls-files", "data"], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    with_logs = {Path(p).parts[1] for p in tracked if Path(p).suffix.lower() in sources.DATA_SUFFIXES}
    with_readme = {Path(p).parts[1] for p in tracked if Path(p).name.startswith("README")}
    sets = sources.bundled_sets(REPO / "data")
    assert {s["name"] for s in sets} == with_logs & with_readme
    for s in sets:
        title = next(line for line in s["readme"].splitlines() if line.startswith("#")).strip("# ").strip()
        assert title == f"{s['name']}: {s['description'].removesuffix(' (partial: still being trained)')}"


@pytest.mark.slow
def test_approaches_table_says_at_which_budget_and_level_it_answers(tmp_path, monkeypatch):
    """Before: the approaches table gave N_opt, loss_opt and _lo/_hi columns with no word of the
    budget C they are at (the one typed in the compute-optimal box) or the intervals' level."""
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(tmp_path / "none"))
    at = start()
    at.file_uploader(key="uploads").set_value([("iso.csv", isoflop_upload_csv(), "text/csv")])
    at.run()
    scope = next(t.key for t in at.text_input if (t.key or "").endswith("::budget_C")).removesuffix("::budget_C")
    n_opt = {}
    for C in ("1e21", "1e22"):
        at.text_input(key=f"{scope}::budget_C").input(C)
        at.run()
        next(b for b in at.button if b.label.startswith("Compare the approaches")).click()
        at.run()
        assert_clean(at)
        assert any(f"at C = {float(C):.4g} FLOPs" in c.value and "95% intervals" in c.value for c in at.caption)
        table = next(d.value for d in at.dataframe if "approach" in getattr(d.value, "columns", ()))
        n_opt[C] = float(table.set_index("approach").loc["2 isoflop", "N_opt"])
    # the table follows the typed budget: N_opt grows as C^a, a ~ 0.45 in these data
    assert 0.35 < np.log10(n_opt["1e22"] / n_opt["1e21"]) < 0.6


def _encdec_upload(p_e: float) -> list:
    rng = np.random.default_rng(0)
    rows = []
    for n_e in (1e5, 3e5, 1e6):
        for n_d in (1e5, 3e5, 1e6):
            loss = (1.0 + 2.0 * (3e5 / n_e) ** p_e * (3e5 / n_d) ** 0.3) * np.exp(rng.normal(0, 0.002))
            rows.append({"run": f"e{n_e:g}_d{n_d:g}", "step": 1000, "split": "val", "n_enc_params": n_e,
                         "n_dec_params": n_d, "n_params": n_e + n_d, "loss": loss})
    return [("ed.csv", pd.DataFrame(rows).to_csv(index=False).encode(), "text/csv")]


def test_encdec_optimum_with_a_collapsed_encoder_exponent_says_so(tmp_path, monkeypatch):
    """Before: data where encoder size does not matter (data/cpu_encdec, a negative result) showed
    'optimal encoder N_e = 1.656e-138' with no word that this split is outside the data."""
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(tmp_path / "none"))
    at = start()
    at.file_uploader(key="uploads").set_value(_encdec_upload(p_e=0.0))  # no encoder term
    at.run()
    assert_clean(at)
    assert at.selectbox(key=next(s.key for s in at.selectbox if (s.key or "").startswith("law::"))).value == "encdec"
    assert params(at).loc["p_e", "value"] < 1e-3
    assert metric(at, "optimal encoder N_e") == "< 1 parameter"
    assert float(metric(at, "optimal decoder N_d")) == pytest.approx(2 * 2e6, rel=1e-6)  # default budget: 2x largest
    assert any("outside the encoder shares fitted (0.0909 to 0.909)" in w.value and "p_e =" in w.value
               for w in at.warning)
    # equal exponents: the optimum splits the budget in half, inside the fitted shares: no warning
    at.file_uploader(key="uploads").set_value(_encdec_upload(p_e=0.3))
    at.run()
    assert_clean(at)
    assert float(metric(at, "optimal encoder N_e")) == pytest.approx(2e6, rel=0.1)
    assert not any("outside the encoder shares" in w.value for w in at.warning)


def test_a_json_log_cut_mid_way_says_why_it_has_no_rows(tmp_path, monkeypatch):
    """Before: a trainer_state.json cut mid-write gave only 'cut.json: no rows': the reader's note
    (malformed JSON, line skipped) was silenced by the page and lost with the failed read."""
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(tmp_path / "none"))
    at = start()
    cut = b'{"log_history": [{"step": 1, "loss": 3.2}, {"step": 2, "lo'
    at.file_uploader(key="uploads").set_value([("cut.json", cut, "application/json")])
    at.run()
    assert_clean(at)
    shown = "\n".join(e.value for e in at.error)
    assert "cut.json: no rows; while reading: cut.json:1: malformed JSON" in shown
    # a good file beside it is still read and fitted; the cut one is named with its reason
    good = "step,loss\n" + "".join(f"{s},{3.0 * s ** -0.1:.5f}\n" for s in range(100, 2100, 100))
    at.file_uploader(key="uploads").set_value([("cut.json", cut, "application/json"),
                                               ("good.csv", good.encode(), "text/csv")])
    at.run()
    assert_clean(at)
    assert "malformed JSON" in "\n".join(e.value for e in at.error)
    assert any("**1 of 2 uploaded files**" in m.value for m in at.markdown)
    assert int(metric(at, "points fitted")) > 0


def test_a_fit_error_says_how_many_rows_the_selection_kept(tmp_path, monkeypatch):
    """Before: a 5-row loss curve gave 'too few points: 2 observation(s)' with no word that the
    default rows (the compute frontier) had kept 2 of the 5; choosing all rows then fits."""
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(tmp_path / "none"))
    at = start()
    csv = "step,loss\n1,3.2\n3,2.9\n4,2.8\n5,2.7\n6,2.6\n"  # sl.frontier keeps 2 of these rows
    at.file_uploader(key="uploads").set_value([("short.csv", csv.encode(), "text/csv")])
    at.run()
    assert_clean(at)
    shown = "\n".join(e.value for e in at.error)
    assert "Could not fit power_law: too few points" in shown
    assert "of the 5 rows of split 'train': compute frontier (lower envelope); change 'Rows'" in shown
    scope = next(s.key for s in at.selectbox if (s.key or "").endswith("::mode")).removesuffix("::mode")
    at.selectbox(key=f"{scope}::mode").set_value("all")
    at.number_input(key=f"{scope}::n_boot").set_value(0)
    next(b for b in at.button if b.label == "Fit").click()
    at.run()
    assert_clean(at)
    assert metric(at, "points fitted") == "5"


def test_default_open_labels_the_interval_in_words_and_warns_beyond_the_backtests_reach(monkeypatch):
    """The open page's prediction: its interval is named in words (level, calibrated on how many
    backtests); a target far past what the backtests measured shows the library's beyond-reach
    text, and a target inside the data does not."""
    import scalelaw as sl

    monkeypatch.setenv("SCALELAW_DATA_DIR", str(FIXTURES))
    at = start()
    assert_clean(at)
    help_text = next(m.help for m in at.metric if m.label.startswith("predicted loss at"))
    assert re.match(r"95% prediction interval, calibrated on \d+ backtests: \[[\d.]+, [\d.]+\]$", help_text), help_text
    assert any(help_text in m.value for m in at.markdown)  # the same words beside the number
    scope = "bundled:a_chinchilla_demo::chinchilla"
    final = sl.final_points(sl.read_logs(FIXTURES / "a_chinchilla_demo"), split="val")
    seen = {}
    for name, scale in (("far", 1000.0), ("inside", None)):
        for inp, col in (("N", "n_params"), ("D", "n_tokens")):
            value = final[col].max() * scale if scale else final[col].median()
            at.text_input(key=f"{scope}::at::{inp}").input(f"{value:g}")
        next(b for b in at.button if b.label == "Fit").click()
        at.run()
        assert_clean(at)
        seen[name] = [w.value for w in at.warning if "beyond the backtests' reach" in w.value]
    assert seen["far"] and "3.00 decades beyond the fitted data" in seen["far"][0]
    assert not seen["inside"]


def test_kaplan_nd_reach_a_loss_answers_with_the_compute_optimal_budget(monkeypatch):
    """Before: choosing kaplan_nd showed 'ValueError: The lower bound exceeds the upper bound.' in
    its panel: sl.reach searched budgets from C = 1e-6, where kaplan_nd's numerical optimum
    (N, D >= 1) has no interval to search (fixed in scalelaw/reach.py: the search starts at C = 6)."""
    import scalelaw as sl

    monkeypatch.setenv("SCALELAW_DATA_DIR", str(FIXTURES))
    at = start()
    at.selectbox(key="law::bundled:a_chinchilla_demo").set_value("kaplan_nd").run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    answer = next(t.value for t in at.table if "reachable" in t.value.columns).iloc[0]
    assert bool(answer["reachable"])
    # the budget found is one where the law's compute-optimal loss is the loss asked for
    fit = sl.fit("kaplan_nd", sl.final_points(sl.read_logs(FIXTURES / "a_chinchilla_demo"), split="val"))
    target = 0.95 * float(fit.table["loss"].min())
    reached = fit.reach(target)
    assert fit.optimum(C=reached["C"])["loss"] == pytest.approx(target, rel=1e-9)
    assert float(answer["C"]) == pytest.approx(reached["C"], rel=0.02)  # shown to 3-4 digits


def test_the_rows_hint_is_not_given_where_the_selection_is_by_design(monkeypatch):
    """chinchilla sees one final point per run: an error about its data gets no 'change Rows'."""
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(FIXTURES))
    at = start()
    at.selectbox(key="bundled_set").set_value("d_dcpt_demo").run()
    at.selectbox(key="law::bundled:d_dcpt_demo").set_value("chinchilla").run()
    assert_clean(at)
    shown = "\n".join(e.value for e in at.error)
    assert "Could not fit chinchilla: input 'D' (column 'n_tokens') has 1 distinct value(s)" in shown
    assert "change 'Rows'" not in shown
