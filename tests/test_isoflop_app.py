"""The app's Chinchilla-approaches panel on an uploaded IsoFLOP table (AppTest, no browser)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
pytestmark = pytest.mark.filterwarnings("ignore::scalelaw.io.ReadLogsWarning")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


def test_approaches_panel_compares_and_recommends(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALELAW_DATA_DIR", str(tmp_path / "none"))
    rows = []
    for C in [1e18, 3e18, 1e19, 3e19, 1e20, 3e20]:
        n_opt = 0.6 * (C / 6) ** 0.45
        for N in n_opt * np.geomspace(1 / 4, 4, 6):
            D = C / (6 * N)
            rows.append({"run": f"C{C:g}_N{N:.4g}", "step": 1000, "split": "val", "n_params": N, "n_tokens": D,
                         "loss": 1.69 + 406.4 / N ** 0.34 + 410.7 / D ** 0.28})
    data = pd.DataFrame(rows).to_csv(index=False).encode()
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
