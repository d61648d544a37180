"""The app's Chinchilla-approaches panel on an uploaded IsoFLOP table (AppTest, no browser)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
pytestmark = pytest.mark.filterwarnings("ignore::scalelaw.io.ReadLogsWarning")
from streamlit.testing.v1 import AppTest  # noqa: E402

from conftest import isoflop_upload_csv  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


def test_approaches_panel_compares_and_recommends(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(tmp_path / "none"))
    data = isoflop_upload_csv()
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.file_uploader(key="uploads").set_value([("iso.csv", data, "text/csv")])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Chinchilla approaches 1, 2 and 3 (6 budgets)" in h.value for h in at.subheader)
    button = [b for b in at.button if b.label.startswith("Compare the approaches")]
    assert button
    button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [d.value for d in at.dataframe if "approach" in getattr(d.value, "columns", ())]
    assert tables, "no approaches table"
    names = set(tables[0]["approach"])
    assert {"1 envelope", "2 isoflop", "3 chinchilla", "3 near-optimum"} <= names
    assert any(n.startswith("recommended: ") for n in names)
    assert any("Recommended" in m.value for m in at.markdown)
