"""Audit of the service's store and saved results: what a careful user hits that earlier audits
did not cover (tests/test_audit_inputs.py: bad input; test_app_audit.py: the app; test_io_notes.py:
readers' silent drops).

Each test was written first, failing, against the bug it names; the store is real SQLite, the
server real uvicorn on a 127.0.0.1 port (those tests are marked ``slow``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")

import scalelaw as sl  # noqa: E402
from scalelaw.serve.errors import ApiError  # noqa: E402
from scalelaw.serve.store import FitStore, StoreError  # noqa: E402


def _power_fit(scale: float = 1.0):
    x = np.array([1e6, 1e7, 1e8, 1e9, 1e10])
    return sl.fit("power_law", {"x": x, "loss": scale * (2.0 + 40.0 * x ** -0.2)}, inputs={"x": "x"})


def _chinchilla_fit():
    from scalelaw.laws.chinchilla import chinchilla

    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e7, 3e9, 5), np.geomspace(1e9, 3e11, 5)))
    loss = chinchilla(N, D, E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)
    return sl.fit("chinchilla", {"n_params": N, "n_tokens": D, "loss": loss}, inputs={"N": "n_params", "D": "n_tokens"})


# ---- one id, two server processes: a fit replaced through one is never answered stale by the other
def test_cache_reloads_a_fit_replaced_under_its_id_through_another_store_handle(tmp_path):
    """Bug: FitCache only asked the store whether the id *existed*, so a fit deleted and PUT anew
    under the same id through another server process (``--workers N`` share one store) kept being
    answered from the old copy: predictions of the wrong law, silently."""
    from scalelaw.serve.app import FitCache

    mine, theirs = FitStore(tmp_path), FitStore(tmp_path)  # two processes' handles on one file
    first, second = _power_fit(), _power_fit(scale=1.5)
    mine.add(first.to_dict(), fit_id="x")
    cache = FitCache(mine)
    assert asyncio.run(cache.get("x")).params == first.params  # loaded and cached here
    assert theirs.delete("x")
    theirs.add(second.to_dict(), fit_id="x")  # the other process never touched this cache
    got = asyncio.run(cache.get("x"))
    assert got.params == second.params
    assert got.predict({"x": [1e7]})[0] == pytest.approx(second.predict({"x": [1e7]})[0], rel=1e-12)
    theirs.delete("x")
    with pytest.raises(ApiError) as info:
        asyncio.run(cache.get("x"))
    assert info.value.status == 404


# ---- a stopped store is whole in its one file ------------------------------------------------
def test_store_checkpoint_puts_every_fit_in_the_one_file(tmp_path):
    """Bug: fits lived in ``fits.sqlite3-wal`` until SQLite's 4 MB auto-checkpoint; a clean stop
    did not move them (the server's thread connections never all close), so copying
    ``fits.sqlite3`` (the store's one file, as the README says) after a stop gave an empty store."""
    store = FitStore(tmp_path / "s")
    ids = [store.add(_power_fit(scale=1 + i / 10).to_dict())["id"] for i in range(3)]
    assert store.checkpoint()
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "s" / "fits.sqlite3", tmp_path / "copy" / "fits.sqlite3")  # the main file only
    assert FitStore(tmp_path / "copy").ids() == sorted(ids)


# ---- a read-only store is not called damaged --------------------------------------------------
def _make_read_only(path):
    """chmod for a normal user; as root (chmod does not bind) the immutable attribute, if allowed.
    Returns an undo function, or skips."""
    os.chmod(path, 0o444)
    if not os.access(path, os.W_OK):
        return lambda: os.chmod(path, 0o644)
    os.chmod(path, 0o644)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    pytest.skip("cannot make a file read-only here (root without chattr +i)")


def test_a_read_only_store_reads_and_says_why_it_cannot_write(tmp_path):
    """Bug: SQLite opens an existing store's read-only file without complaint, and the first
    write then failed as a bare sqlite3.OperationalError: the service answered 'internal error
    (OperationalError)' to every POST /fits, PUT and DELETE, naming neither the file nor why."""
    store = FitStore(tmp_path)
    saved = _power_fit().to_dict()
    store.add(saved, fit_id="kept")
    store.checkpoint()
    store.close()
    undo = _make_read_only(tmp_path / "fits.sqlite3")
    try:
        ro = FitStore(tmp_path)
        assert ro.ids() == ["kept"] and json.loads(ro.get_text("kept")) == saved  # reads work
        for write in (lambda: ro.add(_power_fit(scale=2).to_dict()), lambda: ro.delete("kept")):
            with pytest.raises(StoreError) as info:
                write()
            msg = str(info.value)
            assert str(tmp_path / "fits.sqlite3") in msg and "read-only" in msg and "cannot" in msg
        ro.close()
    finally:
        undo()
    assert FitStore(tmp_path).ids() == ["kept"]  # nothing was lost


def test_a_read_only_new_store_says_read_only_not_unreadable(tmp_path):
    """Bug: a store file SQLite could read but not switch to WAL mode (read-only, not yet a
    store) was called 'not a readable SQLite database', which sends a user to delete it."""
    import sqlite3

    with sqlite3.connect(tmp_path / "fits.sqlite3") as conn:  # a rollback-journal database
        conn.execute("CREATE TABLE keep (x)")
    conn.close()
    undo = _make_read_only(tmp_path / "fits.sqlite3")
    try:
        with pytest.raises(StoreError) as info:
            FitStore(tmp_path)
    finally:
        undo()
    msg = str(info.value)
    assert "not a readable" not in msg and "writ" in msg and str(tmp_path / "fits.sqlite3") in msg


# ---- request bodies ---------------------------------------------------------------------------
def test_deeply_nested_json_body_is_a_400_not_a_500():
    """Bug: a body nested ~100,000 deep raised RecursionError in json.loads: a 500 'internal error'."""
    from scalelaw.serve import requests as rq

    with pytest.raises(ApiError) as info:
        rq.parse_json(b'{"X": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert info.value.status == 400 and info.value.field == "body" and "nested" in info.value.message


def test_a_key_given_twice_in_a_request_is_an_error_not_the_last_one_silently():
    """Bug: ``{"X": {"N": [1e9], "N": [2e9], ...}}`` predicted at N = 2e9 alone, saying nothing."""
    from scalelaw.serve import requests as rq

    with pytest.raises(ApiError) as info:
        rq.parse_json(b'{"X": {"N": [1e9], "N": [2e9], "D": [1e10]}}')
    assert info.value.status == 400 and info.value.field == "N" and "'N' given twice" in info.value.message
    assert rq.parse_json(b'{"X": {"N": [1e9], "D": [1e10]}}') == {"X": {"N": [1e9], "D": [1e10]}}


def test_an_unknown_interval_kind_names_kind_not_x():
    from scalelaw.serve import requests as rq
    from scalelaw.serve.config import Settings

    fit = _power_fit().bootstrap(5, seed=0)
    with pytest.raises(ApiError) as info:
        rq.parse_predict({"X": {"x": [1e7]}, "level": 0.9, "kind": "bogus"}, fit, Settings(store="unused"))
    assert info.value.field == "kind" and "'bogus'" in info.value.message


@pytest.mark.parametrize("body, field", [
    ({"X": {"x": [1e7]}, "schedule": "cosine:n_steps=100,peak=1e-3"}, "X"),
    ({"X": {"x": [1e7]}, "warmup_steps": 10}, "warmup_steps"),
    ({"X": {"x": [1e7]}, "steps": [1, 2]}, "steps"),
])
def test_predict_fields_that_would_be_ignored_are_refused(body, field):
    """Bug: with both X and schedule the X was dropped (a 200 for the schedule alone); warmup_steps
    and steps beside X were dropped too."""
    from scalelaw.serve import requests as rq
    from scalelaw.serve.config import Settings

    with pytest.raises(ApiError) as info:
        rq.parse_predict(body, _power_fit(), Settings(store="unused"))
    assert info.value.status == 422 and info.value.field == field


def _curve(n=24, nan_tail=0):
    steps = np.arange(1, n + 1) * 50
    from scalelaw.schedules import from_spec

    lr = from_spec("cosine:n_steps=2000,peak=3e-3,floor=3e-4,warmup=100")
    loss = 3.0 + 2.0 * (np.cumsum(lr)[steps - 1] * 300) ** -0.5
    if nan_tail:
        loss[-nan_tail:] = np.nan
    return pd.DataFrame({"step": steps, "loss": loss})


def test_forecast_of_a_curve_whose_last_losses_are_null_is_refused():
    """Bug: a diverged run (the trainer logs its non-finite losses as null) had those rows
    dropped without a word and got a confident final loss forecast from the points before it
    failed; an infinite loss was already refused."""
    with pytest.raises(ValueError, match=r"forecast: 3 row\(s\) of the partial curve have no 'loss' or 'step' "
                                         r"\(NaN/null\): step 1100, step 1150, step 1200; a diverged run"):
        sl.forecast(_curve(nan_tail=3), schedule="cosine:n_steps=2000,peak=3e-3,floor=3e-4,warmup=100")


# ---- saved IsoFLOP / envelope results ----------------------------------------------------------
@pytest.fixture(scope="module")
def iso_file(tmp_path_factory):
    rows = []
    for C in [1e18, 1e19, 1e20]:
        n_opt = 0.6 * (C / 6) ** 0.45
        for N in n_opt * np.geomspace(1 / 4, 4, 5):
            D = C / (6 * N)
            rows.append({"n_params": N, "flops": C, "loss": 1.69 + 406.4 / N ** 0.34 + 410.7 / D ** 0.28})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sl.isoflop(pd.DataFrame(rows), inputs={"N": "n_params", "C": "flops"}, n_boot=20)
    path = tmp_path_factory.mktemp("iso") / "iso.json"
    result.save(path)
    return path, result


def test_isoflop_round_trip_predicts_identically(iso_file):
    path, result = iso_file
    back = sl.load_isoflop(path)
    C = np.array([1e18, 1e21])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = result.predict(C, level=0.9), back.predict(C, level=0.9)
    assert set(a) == set(b)
    for k in a:
        assert (a[k] == b[k]) if isinstance(a[k], (str, float)) else np.array_equal(a[k], b[k], equal_nan=True), k
    assert back.warnings == result.warnings and back.params == result.params


def test_isoflop_file_of_a_newer_layout_is_refused(iso_file, tmp_path):
    """Bug: the saved layout 'version' was written but never read: a file from a newer scalelaw
    (new fields this one cannot know) loaded silently."""
    d = json.loads(iso_file[0].read_text())
    from scalelaw.isoflops import FORMAT_VERSION

    d["version"] = FORMAT_VERSION + 1
    (tmp_path / "new.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=rf"new.json: .*layout version {FORMAT_VERSION + 1}, newer than this "
                                         rf"scalelaw reads \({FORMAT_VERSION}"):
        sl.load_isoflop(tmp_path / "new.json")


def test_isoflop_file_missing_a_section_names_it(iso_file, tmp_path):
    """Bug: a saved result without e.g. 'optima' raised a bare KeyError."""
    d = json.loads(iso_file[0].read_text())
    del d["optima"], d["approach"]
    (tmp_path / "cut.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"cut.json: .*missing key\(s\) approach, optima"):
        sl.load_isoflop(tmp_path / "cut.json")


# ---- the live service --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_servers(tmp_path_factory):
    """Two ``scalelaw serve`` processes on one store (what ``--workers 2`` makes)."""
    from test_serve_live import Server

    root = tmp_path_factory.mktemp("two")
    a = Server(root / "store", root / "a.log", SCALELAW_MAX_UPLOAD_MB=1)
    try:
        b = Server(root / "store", root / "b.log", SCALELAW_MAX_UPLOAD_MB=1)
    except BaseException:
        a.kill()
        raise
    yield a, b
    a.kill()
    b.kill()


def _http(url, method="GET", body=None, raw=None):
    from test_serve_live import _request

    return _request(url, method, body=body, raw=raw)


@pytest.mark.slow
def test_live_a_fit_replaced_through_another_process_is_not_served_stale(two_servers):
    a, b = two_servers
    chin, power = _chinchilla_fit(), _power_fit()
    assert _http(f"{a.url}/fits/shared", "PUT", chin.to_dict())[0] == 201
    status, out = _http(f"{a.url}/fits/shared/predict", "POST", {"X": {"N": [1e9], "D": [1e10]}})
    assert status == 200  # a has it cached now
    assert _http(f"{b.url}/fits/shared", "DELETE")[0] == 204
    assert _http(f"{b.url}/fits/shared", "PUT", power.to_dict())[0] == 201
    status, out = _http(f"{a.url}/fits/shared/predict", "POST", {"X": {"x": [1e7]}})
    assert status == 200, out
    assert out["prediction"][0] == pytest.approx(power.predict({"x": [1e7]})[0], rel=1e-12)
    status, out = _http(f"{a.url}/fits/shared")
    assert status == 200 and out["law"] == "power_law" and out["params"] == power.params


@pytest.mark.slow
def test_live_deeply_nested_body_is_a_400(two_servers):
    a, _ = two_servers
    _http(f"{a.url}/fits/nest", "PUT", _power_fit().to_dict())
    deep = b'{"X": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for path in ("/fits/nest/predict", "/fits", "/fits/nest/optimum"):
        status, out = _http(a.url + path, "POST", raw=deep)
        assert status == 400 and out["field"] == "body" and "nested" in out["message"], (path, out)


@pytest.mark.slow
def test_live_a_stopped_server_leaves_every_fit_in_fits_sqlite3(tmp_path):
    from test_serve_live import Server

    srv = Server(tmp_path / "store", tmp_path / "server.log")
    try:
        ids = []
        for i in range(3):
            status, out = _http(f"{srv.url}/fits", "POST", {"law": "power_law", "data": {
                "x": [1e6, 1e7, 1e8, 1e9, 1e10], "loss": [4.0, 3.2, 2.8, 2.6, 2.5 + 0.01 * i]}, "inputs": {"x": "x"}})
            assert status == 201, out
            ids.append(out["id"])
    finally:
        srv.stop()
    assert srv.proc.returncode is not None
    (tmp_path / "backup").mkdir()
    shutil.copy(tmp_path / "store" / "fits.sqlite3", tmp_path / "backup" / "fits.sqlite3")
    assert FitStore(tmp_path / "backup").ids() == sorted(ids)


@pytest.mark.slow
def test_live_predict_and_forecast_refuse_what_they_would_drop(two_servers):
    a, _ = two_servers
    _http(f"{a.url}/fits/dup", "PUT", _power_fit().to_dict())
    status, out = _http(f"{a.url}/fits/dup/predict", "POST", raw=b'{"X": {"x": [1e6], "x": [1e8]}}')
    assert status == 400 and out["field"] == "x" and "given twice" in out["message"]
    status, out = _http(f"{a.url}/fits/dup/predict", "POST", {"X": {"x": [1e7]}, "schedule": [1e-3] * 10})
    assert status == 422 and out["field"] == "X"
    curve = _curve(nan_tail=2)
    body = {"data": {"step": curve.step.tolist(), "loss": curve.loss.tolist()},
            "schedule": "cosine:n_steps=2000,peak=3e-3,floor=3e-4,warmup=100"}
    status, out = _http(f"{a.url}/forecast", "POST", body)
    assert status == 400 and out["field"] == "data" and "step 1150, step 1200" in out["message"], out


def _chunked_post(url, path, body: bytes, content_type: str) -> tuple[int, dict]:
    """POST with ``Transfer-Encoding: chunked`` (no Content-Length: a streaming client or proxy)."""
    import http.client
    from urllib.parse import urlparse

    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", content_type)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            for i in range(0, len(body), 65536):
                chunk = body[i:i + 65536]
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer before the whole body is sent
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


@pytest.mark.slow
def test_live_a_streamed_upload_over_the_limit_is_a_413_not_malformed(two_servers):
    """Bug: a multipart upload sent without Content-Length (chunked) that ran past the body limit
    was answered 400 'malformed multipart upload: ' (the parser swallowed the limit's signal), and
    the connection reset under the client still sending."""
    a, _ = two_servers
    boundary = "XyZ"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"params\"\r\n\r\n"
            + json.dumps({"law": "power_law", "inputs": {"x": "x"}})
            + f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\nx,loss\n").encode() + b"1,2\n" * 400_000 + f"\r\n--{boundary}--\r\n".encode()
    status, out = _chunked_post(a.url, "/fits", body, f"multipart/form-data; boundary={boundary}")
    assert status == 413 and out["field"] == "body" and "1 MB" in out["message"], out
