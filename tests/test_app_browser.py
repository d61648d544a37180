"""End to end in a real browser: ``streamlit run`` on a free local port, Debian's Chromium driven
headless by Playwright (no browser download), a log uploaded through the page's file input.

Skipped when /usr/bin/chromium (``apt-get install chromium``) or Playwright is missing. The
screenshot goes to ``$SCALELAW_ARTIFACTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "app"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# no sandbox (root in CI containers), no GPU, and nothing that phones home
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f} s")


@pytest.fixture
def app_url(tmp_path):
    """A running `streamlit run app/streamlit_app.py` on a free port, stopped afterwards."""
    port = _free_port()
    env = dict(os.environ, SCALELAW_DATA_DIR=str(FIXTURES / "data"))
    env.pop("SCALELAW_MAX_UPLOAD_MB", None)
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app" / "streamlit_app.py"),
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def page(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (apt-get install -y chromium chromium-driver)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra) not installed")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1440, "height": 2600})
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def _wait_idle(page, timeout_ms: int = 30_000) -> None:
    """Until the script run is over: no running indicator and no stale elements of the last run."""
    page.wait_for_timeout(300)  # let a rerun triggered just now start
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
                 && document.querySelectorAll('[data-stale="true"]').length === 0""", timeout=timeout_ms)


def test_upload_fit_and_see_plot_and_parameters(app_url, page, tmp_path):
    page.set_default_timeout(30_000)
    page.goto(app_url)
    # opened with no input: the bundled set is fitted at once
    page.wait_for_selector(".js-plotly-plot")
    page.get_by_text("Fitted parameters").first.wait_for()
    _wait_idle(page)

    # upload one log (every run's curves in one tidy CSV) through the page's file input
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        str(FIXTURES / "uploads" / "chinchilla_curves.csv"))
    page.get_by_text("1 uploaded file(s)").first.wait_for()
    _wait_idle(page)

    # change an option in the form and fit
    page.get_by_role("spinbutton", name="Bootstrap resamples").fill("100")
    page.get_by_role("button", name="Fit", exact=True).click()
    page.get_by_text("Bootstrap: 100 resamples").first.wait_for()
    _wait_idle(page)

    # the plot and the fitted parameters are on the page
    page.wait_for_selector(".js-plotly-plot .main-svg")
    assert page.locator(".js-plotly-plot").count() >= 2
    table = page.locator('[data-testid="stTable"]').first
    text = table.inner_text()
    for name in ("E", "alpha", "beta", "95% CI low"):
        assert name in text, text
    assert "Traceback" not in page.content()

    artifacts = Path(os.environ.get("SCALELAW_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "app_browser.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
