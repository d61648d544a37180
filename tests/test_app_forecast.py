"""The app's runs-in-progress section (issue 14): an uploaded run that stops short of its schedule
shows sl.forecast's final loss with its interval and the forecast curve. AppTest, no browser."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
pytestmark = pytest.mark.filterwarnings("ignore::scalelaw.io.ReadLogsWarning")
from streamlit.testing.v1 import AppTest  # noqa: E402

import scalelaw as sl  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app" / "streamlit_app.py"
FIXTURES = REPO / "tests" / "fixtures" / "app"
COSINE = REPO / "data" / "cpu_schedules" / "sch_d2-32_D4M_cosine_seed0.jsonl"
sys.path.insert(0, str(REPO / "app"))


@pytest.fixture(autouse=True)
def _bundled_fixture_data(monkeypatch):
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(FIXTURES / "data"))
    monkeypatch.delenv("SCALELAW_MAX_UPLOAD_MB", raising=False)


def _run_app(files) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    at.file_uploader(key="uploads").set_value([(n, b, "application/octet-stream") for n, b in files])
    return at.run()


def _clean(at):
    assert not at.exception, [e.value for e in at.exception]


def _forecast_metrics(at):
    return {m.label: m for m in at.metric if "forecast final loss" in m.label}


def _half_of_the_bundled_cosine_run() -> bytes:
    """data/cpu_schedules' d2-32 cosine run (1,953 steps planned) cut after step 1,000, as the
    trainer would have left it mid-run: the header line and the rows logged so far."""
    lines = COSINE.read_text().splitlines()
    keep = [lines[0]] + [ln for ln in lines[1:] if json.loads(ln)["step"] <= 1000]
    return ("\n".join(keep) + "\n").encode()


def test_an_uploaded_run_cut_at_half_its_schedule_shows_the_forecast():
    data = _half_of_the_bundled_cosine_run()
    at = _run_app([("cosine_half.jsonl", data)])
    _clean(at)
    shown = _forecast_metrics(at)
    assert list(shown) == ["sch_d2-32_D4M_cosine_seed0: forecast final loss (step 1,953)"]
    metric = next(iter(shown.values()))
    # the page shows exactly what the library forecasts from the same rows (val split, lr_annealing,
    # the schedule's 100 warm-up steps at the peak LR, the app's 100 resamples, 90%)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sl.read_logs(COSINE)
    part = df[(df["split"] == "val") & (df["step"] <= 1000)]
    want = sl.forecast(part[["step", "loss"]], schedule=part["schedule"].iloc[0], law="lr_annealing",
                       warmup_steps=100, n_boot=100, level=0.9)
    assert float(metric.value) == pytest.approx(want["final_loss"], rel=1e-3)
    lo, hi = want["interval"]
    assert f"[{lo:.4g}, {hi:.4g}]" in metric.help
    # the run's real end (logged after the cut) lies inside the interval shown: measured forecast
    # 4.158 in [4.053, 4.228] against the real 4.080 (+1.9%, from this run alone)
    true_end = float(df.loc[(df["split"] == "val") & (df["step"] == 1953), "loss"].iloc[0])
    assert lo <= true_end <= hi and float(metric.value) == pytest.approx(true_end, rel=0.03)
    caption = "\n".join(c.value for c in at.caption)
    assert "Logged to step 1,000 of 1,953" in caption and "from this run alone" in caption
    # the figure: the logged points, the forecast to step 1,953 and its interval band
    figs = [c for c in at.get("plotly_chart") if c.proto.spec and "lr_annealing forecast" in c.proto.spec]
    assert figs, "no forecast figure"
    traces = json.loads(figs[0].proto.spec)["data"]
    line = next(t for t in traces if t.get("name", "").endswith("lr_annealing forecast"))
    x, y = _array(line["x"]), _array(line["y"])
    assert x[0] == 1001 and x[-1] == 1953
    assert y[-1] == pytest.approx(want["final_loss"], rel=1e-3)
    assert any(t.get("fill") == "toself" for t in traces)  # the interval band
    logged = _array(next(t for t in traces if t.get("name", "").endswith(": logged"))["x"])
    assert logged.max() == 1000 and len(logged) == len(part)


def _array(v):
    """A trace's data as plotly's JSON writes it: a list, or base64 with a dtype (plotly >= 6)."""
    if isinstance(v, dict):
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def test_a_finished_set_shows_no_forecast():
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.selectbox(key="bundled_set").select("b_lr_schedules_demo").run()
    _clean(at)
    assert not _forecast_metrics(at)


def test_the_user_gives_the_planned_schedule_of_a_run_whose_log_does_not_say_it(tmp_path):
    # a synthetic lr_annealing curve (the bundled demo's cosine run) cut at half, its schedule column
    # dropped: the user types the plan; the forecast lands on the curve's real end
    full = pd.read_csv(FIXTURES / "data" / "b_lr_schedules_demo" / "curves.csv")
    cos = full[full["run"] == "cosine"]
    spec = cos["schedule"].iloc[0]
    half = cos[cos["step"] <= 1500].drop(columns=["schedule"])
    at = _run_app([("cosine_half.csv", half.to_csv(index=False).encode())])
    _clean(at)
    assert not _forecast_metrics(at)
    scope = next(k for k in (w.key for w in at.text_input) if k and k.endswith("::spec"))
    at.text_input(key=scope).input(spec)
    next(b for b in at.button if b.label == "Forecast").click()
    at.run()
    _clean(at)
    shown = _forecast_metrics(at)
    assert list(shown) == ["cosine: forecast final loss (step 3,000)"]
    true_end = float(cos.loc[cos["step"] == 3000, "loss"].iloc[0])
    # 0.3% noise on the demo's points; a half-run forecast from the generating law lands within 2%
    assert float(next(iter(shown.values())).value) == pytest.approx(true_end, rel=0.02)


def test_runs_in_progress_reads_the_plan_from_the_schedule_column():
    from slapp.forecast_panel import runs_in_progress

    spec = "cosine:n_steps=1000,peak=1e-3,warmup=10"
    rows = []
    for run, last in (("done", 1000), ("logged_every_30", 990), ("half", 500)):
        every = 30 if run == "logged_every_30" else 50
        for s in range(every, last + 1, every):
            rows.append({"run": run, "step": s, "split": "val", "loss": 3.0 - s / 1000, "schedule": spec})
    found = runs_in_progress(pd.DataFrame(rows))
    # 990 of 1,000 with a 30-step logging interval is a finished run, not one in progress
    assert [(f["run"], f["last_step"], f["n_steps"]) for f in found] == [("half", 500, 1000)]
    assert runs_in_progress(pd.DataFrame(rows).drop(columns=["schedule"])) == []
