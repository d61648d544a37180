"""The service's settings and limits, read from the environment (so every uvicorn worker sees them).

``scalelaw serve`` turns its flags into these variables before starting uvicorn; a deployment
can set them directly (``uvicorn --factory scalelaw.serve.app:create_app``).

| variable | default | what it limits |
|---|---|---|
| ``SCALELAW_STORE`` | ``~/.scalelaw/store`` | where the SQLite store lives |
| ``SCALELAW_TOKEN`` | unset | bearer token; set, it guards writes (or everything, ``SCALELAW_AUTH=all``) |
| ``SCALELAW_MAX_UPLOAD_MB`` | 50 | request body size, the same default and variable as the app's upload limit |
| ``SCALELAW_MAX_ROWS`` | 200000 | rows of data per fit |
| ``SCALELAW_MAX_BOOTSTRAP`` | 5000 | bootstrap resamples per fit |
| ``SCALELAW_MAX_POINTS`` | 100000 | points per prediction (inputs or schedule steps) |
| ``SCALELAW_FIT_TIMEOUT`` | 120 | seconds a fit or backtest may run in its worker process |
| ``SCALELAW_FIT_WORKERS`` | 1 | fit worker processes per server process |
| ``SCALELAW_MAX_QUEUED_FITS`` | 16 | fits waiting for a worker before new ones get 429 |
| ``SCALELAW_FIT_NICE`` | 10 | niceness added to fit workers, so predictions come first on a busy machine |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

# The Streamlit app's default upload cap (app/slapp/config.py, DEFAULT_MAX_UPLOAD_MB): one limit for both.
DEFAULT_MAX_UPLOAD_MB = 50.0


@dataclass(frozen=True)
class Settings:
    store: str                     # store directory
    token: str | None = None       # bearer token (None: no auth)
    auth: str = "writes"           # "writes": POST/PUT/DELETE that change the store or run fits; "all": every route but /healthz
    max_body_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_rows: int = 200_000
    max_bootstrap: int = 5_000
    max_points: int = 100_000
    fit_timeout_s: float = 120.0
    fit_workers: int = 1
    max_queued_fits: int = 16
    fit_nice: int = 10             # niceness of fit workers (0: same priority as the server)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        from scalelaw.serve.store import default_store_dir

        env = os.environ if env is None else env

        def num(var, default, kind):
            raw = env.get(var)
            if raw in (None, ""):
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{var} must be a {kind.__name__}, got {raw!r}") from None
            if value <= 0:
                raise ValueError(f"{var} must be > 0, got {raw!r}")
            return value

        auth = env.get("SCALELAW_AUTH") or "writes"
        if auth not in ("writes", "all"):
            raise ValueError(f"SCALELAW_AUTH must be 'writes' or 'all', got {auth!r}")
        return cls(
            store=env.get("SCALELAW_STORE") or default_store_dir(),
            token=env.get("SCALELAW_TOKEN") or None,
            auth=auth,
            max_body_mb=num("SCALELAW_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, float),
            max_rows=num("SCALELAW_MAX_ROWS", 200_000, int),
            max_bootstrap=num("SCALELAW_MAX_BOOTSTRAP", 5_000, int),
            max_points=num("SCALELAW_MAX_POINTS", 100_000, int),
            fit_timeout_s=num("SCALELAW_FIT_TIMEOUT", 120.0, float),
            fit_workers=num("SCALELAW_FIT_WORKERS", 1, int),
            max_queued_fits=num("SCALELAW_MAX_QUEUED_FITS", 16, int),
            fit_nice=int(env.get("SCALELAW_FIT_NICE") or 10),
        )

    def public(self) -> dict:
        """The limits a client may see (never the token)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("token", "store")}
        out["auth"] = self.auth if self.token else "none"
        return out
