"""The service's parts without a server: the SQLite store, request validation, metrics, settings.

Real-server tests (uvicorn on a loopback port) are in test_serve_live.py.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")

from scalelaw.serve.config import Settings  # noqa: E402
from scalelaw.serve.errors import ApiError  # noqa: E402
from scalelaw.serve.metrics import Metrics  # noqa: E402
from scalelaw.serve.store import ConflictError, FitStore, StoreError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def saved(chinchilla_grid_module):
    return chinchilla_grid_module.to_dict()


@pytest.fixture(scope="module")
def chinchilla_grid_module():
    import scalelaw as sl
    from scalelaw.laws.chinchilla import chinchilla

    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e7, 3e9, 5), np.geomspace(1e9, 3e11, 5)))
    loss = chinchilla(N, D, E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)
    return sl.fit("chinchilla", {"n_params": N, "n_tokens": D, "loss": loss},
                  inputs={"N": "n_params", "D": "n_tokens"})


# ---- store ------------------------------------------------------------------------------------
def test_store_round_trip_is_exactly_what_fit_save_writes(tmp_path, saved, chinchilla_grid_module):
    store = FitStore(tmp_path / "s")
    meta = store.add(saved, name="grid", tags=["b", "a", "a"])
    assert meta["law"] == "chinchilla" and meta["tags"] == ["a", "b"] and meta["n_points"] == 25
    chinchilla_grid_module.save(tmp_path / "fit.json")
    assert store.get_text(meta["id"]) == (tmp_path / "fit.json").read_text()
    assert store.meta(meta["id"])["name"] == "grid"
    assert store.count() == 1 and store.exists(meta["id"]) and not store.exists("nope")
    assert store.get_text("nope") is None and store.meta("nope") is None
    journal = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"


def test_store_list_filters_and_pages(tmp_path, saved):
    store = FitStore(tmp_path)
    ids = [store.add(saved, name=f"n{i}", tags=["even" if i % 2 == 0 else "odd"], created=1000.0 + i)["id"]
           for i in range(5)]
    everything = store.list()
    assert everything["total"] == 5 and [f["id"] for f in everything["fits"]] == ids[::-1]  # newest first
    assert [f["name"] for f in store.list(tag="even")["fits"]] == ["n4", "n2", "n0"]
    assert store.list(law="power")["total"] == 0
    assert store.list(name="n3")["fits"][0]["id"] == ids[3]
    assert store.list(data_hash=saved["data_hash"])["total"] == 5
    page = store.list(limit=2, offset=2)
    assert page["total"] == 5 and [f["id"] for f in page["fits"]] == ids[2:0:-1]
    assert store.delete(ids[0]) and not store.delete(ids[0])
    assert store.count() == 4 and store.list(tag="even")["total"] == 2


def test_store_is_immutable_under_an_id(tmp_path, saved):
    store = FitStore(tmp_path)
    first = store.add(saved, fit_id="mine")
    again = store.add(saved, fit_id="mine")  # the same fit again: no-op
    assert first["created_now"] and not again["created_now"] and store.count() == 1
    other = dict(saved, objective=saved["objective"] * 2)
    with pytest.raises(ConflictError, match="immutable"):
        store.add(other, fit_id="mine")
    assert json.loads(store.get_text("mine"))["objective"] == saved["objective"]


def test_store_detects_a_damaged_fit(tmp_path, saved):
    store = FitStore(tmp_path)
    fid = store.add(saved)["id"]
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE fits SET fit_json = replace(fit_json, '\"law\"', '\"LAW\"') WHERE id = ?", (fid,))
    with pytest.raises(StoreError, match="checksum"):
        store.get_text(fid)


def test_store_refuses_a_file_that_is_not_sqlite(tmp_path):
    (tmp_path / "fits.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite database"):
        FitStore(tmp_path)


def test_readers_are_not_blocked_by_a_writer(tmp_path, saved):
    store = FitStore(tmp_path)
    fid = store.add(saved)["id"]
    writer = sqlite3.connect(store.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    writer.execute("DELETE FROM tags")
    out = {}

    def read():
        out["text"] = store.get_text(fid)
        out["count"] = store.count()

    t = threading.Thread(target=read)
    t.start()
    t.join(timeout=5)
    writer.execute("ROLLBACK")
    assert not t.is_alive() and out["count"] == 1 and json.loads(out["text"])["law"] == "chinchilla"


# ---- request validation -----------------------------------------------------------------------
def _settings(**kw):
    return Settings(store="unused", **kw)


def _error(fn, *args, **kw) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kw)
    return info.value


def test_fit_requests_name_the_field_at_fault():
    from scalelaw.serve.requests import parse_fit

    s = _settings(max_rows=10, max_bootstrap=100)
    rows = {"n_params": [1.0, 2.0], "n_tokens": [1.0, 2.0], "loss": [3.0, 2.0]}
    cases = [
        ({"data": rows}, 422, "law"),
        ({"law": "nope", "data": rows}, 400, "law"),
        ({"law": 3, "data": rows}, 422, "law"),
        ({"law": "chinchilla"}, 422, "data"),
        ({"law": "chinchilla", "data": "x"}, 422, "data"),
        ({"law": "chinchilla", "data": [{"a": 1}] * 11}, 413, "data"),
        ({"law": "chinchilla", "data": {"a": list(range(11))}}, 413, "data"),
        ({"law": "chinchilla", "data": {"a": [1], "b": [1, 2]}}, 400, "data"),
        ({"law": "chinchilla", "data": [{"a": [1]}]}, 422, "data[0].a"),
        ({"law": "chinchilla", "data": rows, "bootstrap": 101}, 422, "bootstrap"),
        ({"law": "chinchilla", "data": rows, "bootstrap": 1}, 400, "bootstrap"),
        ({"law": "chinchilla", "data": rows, "bootstrap": "many"}, 422, "bootstrap"),
        ({"law": "chinchilla", "data": rows, "loss": "l1"}, 400, "loss"),
        ({"law": "chinchilla", "data": rows, "delta": -1}, 400, "delta"),
        ({"law": "chinchilla", "data": rows, "delta": "x"}, 422, "delta"),
        ({"law": "chinchilla", "data": rows, "fixed": {"E": "one"}}, 422, "fixed.E"),
        ({"law": "chinchilla", "data": rows, "bounds": {"E": [1]}}, 422, "bounds.E"),
        ({"law": "chinchilla", "data": rows, "seed": 1.5}, 422, "seed"),
        ({"law": "chinchilla", "data": rows, "inputs": {"N": 3}}, 422, "inputs.N"),
        ({"law": "chinchilla", "data": rows, "colour": "red"}, 422, "colour"),
        ({"law": "chinchilla", "data": rows, "by": "lang"}, 400, "by"),
        ({"law": "chinchilla", "data": rows, "final_points": "yes"}, 422, "final_points"),
        ({"law": "chinchilla", "data": rows, "tags": ["has space"]}, 422, "tags"),
    ]
    for body, status, field in cases:
        err = _error(parse_fit, body, s)
        assert (err.status, err.field) == (status, field), (body, err.status, err.field, err.message)
    ok = parse_fit({"law": "lr_annealing", "data": rows, "warmup_steps": 5, "options": {"schedules": None}}, s)
    assert ok["fit_kwargs"]["warmup_steps"] == 5 and "schedules" in ok["fit_kwargs"]


def test_predict_requests_name_the_field_at_fault(chinchilla_grid_module):
    from scalelaw.serve.requests import parse_predict

    fit = chinchilla_grid_module
    s = _settings(max_points=100)
    assert parse_predict({"X": {"N": [1.0, 2.0], "D": 3.0}}, fit, s)[1] == 2
    cases = [
        ({}, 422, "X"),
        ({"X": [1, 2]}, 422, "X"),
        ({"X": {"N": "a", "D": 1}}, 422, "X.N"),
        ({"X": {"N": [1, None], "D": 1}}, 422, "X.N[1]"),
        ({"X": {"N": list(range(1, 102)), "D": 1}}, 413, "X.N"),
        ({"X": {"N": [1, 2], "D": [1, 2, 3]}}, 400, "X.D"),
        ({"X": {"N": 1, "D": 1}, "level": 2}, 400, "level"),
        ({"X": {"N": 1, "D": 1}, "level": 0.9}, 400, "level"),  # no bootstrap draws
        ({"X": {"N": 1, "D": 1}, "colour": 1}, 422, "colour"),
        ({"schedule": "cosine:n_steps=1000,peak=1e-3"}, 413, "schedule"),
        ({"schedule": "nonsense"}, 400, "schedule"),
        ({"schedule": [1e-3, "x"]}, 422, "schedule[1]"),
    ]
    for body, status, field in cases:
        err = _error(parse_predict, body, fit, s)
        assert (err.status, err.field) == (status, field), (body, err.status, err.field, err.message)


def test_library_messages_map_to_their_fields():
    from scalelaw.serve.errors import error_payload

    e = error_payload(KeyError("column 'nparams' (input N) not found in the data; columns are: a"), "data")
    assert (e["status"], e["field"]) == (400, "inputs") and e["message"].startswith("column 'nparams'")
    e = error_payload(ValueError("fixed: law 'chinchilla' has no parameter 'Q'"), "data")
    assert e["field"] == "fixed"
    e = error_payload(ValueError("column 'loss' (target) must be > 0"), "data")
    assert e["field"] == "target"
    e = error_payload(RuntimeError("boom"), "data")
    assert e["status"] == 500 and "Traceback" not in e["message"]


# ---- metrics, settings, import weight ------------------------------------------------------------
def test_metrics_render_prometheus_text():
    m = Metrics()
    for seconds in (0.0005, 0.003, 0.003, 0.2):
        m.observe("POST", "/fits/{fit_id}/predict", 200, seconds)
    m.observe("POST", "/fits", 400, 0.01)
    text = m.render(fits_stored=7, fits_running=1, fits_queued=0)
    lines = text.splitlines()
    assert 'scalelaw_requests_total{method="POST",route="/fits/{fit_id}/predict",status="200"} 4' in lines
    assert 'scalelaw_requests_total{method="POST",route="/fits",status="400"} 1' in lines
    pre = 'scalelaw_request_duration_seconds_bucket{method="POST",route="/fits/{fit_id}/predict",'
    assert pre + 'le="0.001"} 1' in lines and pre + 'le="0.005"} 3' in lines and pre + 'le="+Inf"} 4' in lines
    assert 'scalelaw_request_duration_seconds_count{method="POST",route="/fits/{fit_id}/predict"} 4' in lines
    assert "scalelaw_fits_stored 7" in lines and "# TYPE scalelaw_request_duration_seconds histogram" in lines
    # bucket counts are cumulative and never decrease
    counts = [int(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(pre)]
    assert counts == sorted(counts)


def test_settings_from_env_check_their_values():
    s = Settings.from_env({"SCALELAW_STORE": "/x", "SCALELAW_MAX_ROWS": "10", "SCALELAW_TOKEN": "t"})
    assert s.max_rows == 10 and s.token == "t" and s.max_body_mb == 50.0 and "token" not in s.public()
    with pytest.raises(ValueError, match="SCALELAW_MAX_POINTS"):
        Settings.from_env({"SCALELAW_MAX_POINTS": "lots"})
    with pytest.raises(ValueError, match="SCALELAW_AUTH"):
        Settings.from_env({"SCALELAW_AUTH": "some"})


def test_import_scalelaw_does_not_import_fastapi():
    code = ("import sys, scalelaw, scalelaw.cli; c = scalelaw.Client('http://127.0.0.1:1'); "
            "bad = [m for m in ('fastapi', 'uvicorn', 'starlette', 'pydantic') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_cli_documents_serve():
    out = subprocess.run([sys.executable, "-m", "scalelaw", "serve", "--help"], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, check=True).stdout
    for flag in ("--host", "--port", "--store", "--workers", "--auth", "--fit-timeout", "--max-points"):
        assert flag in out


def test_client_reports_an_unreachable_service():
    import scalelaw as sl

    with pytest.raises(ConnectionError, match="cannot reach"):
        sl.Client("http://127.0.0.1:9", timeout=2).laws()


def test_a_full_fit_queue_answers_429():
    import asyncio

    from scalelaw.serve.pool import FitPool

    pool = FitPool(1, max_queued=2)
    pool.queued = 2  # two fits already wait for the worker
    with pytest.raises(ApiError) as info:
        asyncio.run(pool.run({"kind": "fit"}, 1.0))
    assert info.value.status == 429 and info.value.headers == {"Retry-After": "5"}
    assert "SCALELAW_MAX_QUEUED_FITS" in info.value.message
