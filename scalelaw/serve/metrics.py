"""Request counters and a latency histogram, exposed in the Prometheus text format (version 0.0.4).

Written by hand (a few dozen lines) rather than pulling in ``prometheus_client``. Counts are per
server process: behind several uvicorn workers each scrape sees the worker that answered it, so
scrape the workers separately or sum in Prometheus (``sum by (route) (...)``).
"""

from __future__ import annotations

import bisect
import threading

# Upper bounds in seconds: fine below 25 ms where predictions live, coarse up to fits.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """``observe(method, route, status, seconds)`` after each request; ``render(...)`` for /metrics."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requests: dict = {}      # (method, route, status) -> count
        self._hist: dict = {}          # (method, route) -> [bucket counts..., sum, count]
        self.fits_created = 0
        self.fit_timeouts = 0
        self.fit_worker_restarts = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        i = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            key = (method, route, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            h = self._hist.get((method, route))
            if h is None:
                h = self._hist[(method, route)] = [0] * len(BUCKETS) + [0.0, 0]
            if i < len(BUCKETS):
                h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def render(self, *, fits_stored: int, fits_running: int, fits_queued: int) -> str:
        out = ["# HELP scalelaw_requests_total HTTP requests answered, by method, route and status.",
               "# TYPE scalelaw_requests_total counter"]
        with self._lock:
            requests = sorted(self._requests.items())
            hist = sorted((k, list(v)) for k, v in self._hist.items())
            created, timeouts, restarts = self.fits_created, self.fit_timeouts, self.fit_worker_restarts
        for (method, route, status), n in requests:
            out.append(f'scalelaw_requests_total{{method="{method}",route="{_escape(route)}",status="{status}"}} {n}')
        out += ["# HELP scalelaw_request_duration_seconds Time from request to response, by method and route.",
                "# TYPE scalelaw_request_duration_seconds histogram"]
        for (method, route), h in hist:
            labels = f'method="{method}",route="{_escape(route)}"'
            cumulative = 0
            for bound, n in zip(BUCKETS, h[:len(BUCKETS)]):
                cumulative += n
                out.append(f'scalelaw_request_duration_seconds_bucket{{{labels},le="{bound:g}"}} {cumulative}')
            out.append(f'scalelaw_request_duration_seconds_bucket{{{labels},le="+Inf"}} {h[-1]}')
            out.append(f"scalelaw_request_duration_seconds_sum{{{labels}}} {h[-2]:.6f}")
            out.append(f"scalelaw_request_duration_seconds_count{{{labels}}} {h[-1]}")
        out += ["# HELP scalelaw_fits_stored Fits in the store.", "# TYPE scalelaw_fits_stored gauge",
                f"scalelaw_fits_stored {fits_stored}",
                "# HELP scalelaw_fits_created_total Fits stored by this process (POST and new PUT).",
                "# TYPE scalelaw_fits_created_total counter", f"scalelaw_fits_created_total {created}",
                "# HELP scalelaw_fits_running Fits and backtests running in worker processes.",
                "# TYPE scalelaw_fits_running gauge", f"scalelaw_fits_running {fits_running}",
                "# HELP scalelaw_fits_queued Fits waiting for a worker process.",
                "# TYPE scalelaw_fits_queued gauge", f"scalelaw_fits_queued {fits_queued}",
                "# HELP scalelaw_fit_timeouts_total Fits stopped at the time limit.",
                "# TYPE scalelaw_fit_timeouts_total counter", f"scalelaw_fit_timeouts_total {timeouts}",
                "# HELP scalelaw_fit_worker_restarts_total Worker processes replaced (time limit or crash).",
                "# TYPE scalelaw_fit_worker_restarts_total counter",
                f"scalelaw_fit_worker_restarts_total {restarts}"]
        return "\n".join(out) + "\n"
