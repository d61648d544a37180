"""``scalelaw serve``: the prediction service (FastAPI + uvicorn) over a SQLite store of fits.

Importing ``scalelaw`` never imports this package (nor FastAPI): the CLI imports it when the
``serve`` subcommand runs. The Python client, :class:`scalelaw.Client`, needs only the stdlib.

Modules: :mod:`.app` (routes, auth, limits, metrics middleware), :mod:`.store` (the SQLite
store), :mod:`.pool` (fit worker processes under a time limit), :mod:`.jobs` (what a worker
does), :mod:`.requests` (request validation), :mod:`.config` (settings from the environment),
:mod:`.metrics` (Prometheus text), :mod:`.summary` (what the API says about a fit).
"""

from __future__ import annotations

import os


def serve(*, host: str = "127.0.0.1", port: int = 8000, store: str | None = None, workers: int = 1,
          auth: str | None = None, fit_workers: int | None = None, fit_timeout: float | None = None,
          max_body_mb: float | None = None, max_rows: int | None = None, max_bootstrap: int | None = None,
          max_points: int | None = None, log_level: str = "info") -> None:
    """Run the service until interrupted. Settings travel as environment variables, so every
    uvicorn worker process (``workers > 1``) builds the same app; arguments left at None keep
    the environment's value (or the default)."""
    import uvicorn

    from scalelaw.serve.config import Settings

    env = {"SCALELAW_AUTH": auth, "SCALELAW_STORE": store, "SCALELAW_FIT_WORKERS": fit_workers,
           "SCALELAW_FIT_TIMEOUT": fit_timeout, "SCALELAW_MAX_UPLOAD_MB": max_body_mb,
           "SCALELAW_MAX_ROWS": max_rows, "SCALELAW_MAX_BOOTSTRAP": max_bootstrap,
           "SCALELAW_MAX_POINTS": max_points}
    for key, value in env.items():
        if value is not None:
            os.environ[key] = str(value)
    # uvicorn took --port 99999 and reported "running on :99999" while nothing listened there
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise SystemExit(f"scalelaw serve: error: --port must be an integer in 1..65535, got {port!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SystemExit(f"scalelaw serve: error: --workers must be an integer >= 1, got {workers!r}")
    import socket

    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:  # uvicorn would say only "[Errno -2] Name or service not known"
        raise SystemExit(f"scalelaw serve: error: --host {host!r} is not an IP address or a name that resolves "
                         f"({err})") from None
    settings = Settings.from_env()  # fail here, with the variable's name, before uvicorn starts
    from scalelaw.serve.store import FitStore, StoreError

    try:
        FitStore(settings.store).close()  # the store opens (or is created) before we listen
    except StoreError as err:
        raise SystemExit(f"scalelaw serve: error: {err}") from None
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.token:
        print(f"scalelaw serve: warning: listening on {host} with no SCALELAW_TOKEN: anyone who can reach "
              "this port can write and delete fits")
    print(f"scalelaw serve: store {settings.store}; auth: "
          + (f"token required for {settings.auth}" if settings.token else "none (SCALELAW_TOKEN unset)"))
    uvicorn.run("scalelaw.serve.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, proxy_headers=True, timeout_graceful_shutdown=10)


def add_arguments(parser) -> None:
    """The ``scalelaw serve`` flags (kept here so the CLI module stays small)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--store", default=None, help="store directory (default $SCALELAW_STORE or ~/.scalelaw/store)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--auth", choices=("writes", "all"), default=None,
                        help="with SCALELAW_TOKEN set: guard writes only (default, or $SCALELAW_AUTH) "
                             "or every route but /healthz")
    parser.add_argument("--fit-workers", type=int, default=None, help="fit processes per server process (default 1)")
    parser.add_argument("--fit-timeout", type=float, default=None, help="seconds a fit may run (default 120)")
    parser.add_argument("--max-body-mb", type=float, default=None, help="request body limit (default 50)")
    parser.add_argument("--max-rows", type=int, default=None, help="rows per fit (default 200000)")
    parser.add_argument("--max-bootstrap", type=int, default=None, help="bootstrap resamples per fit (default 5000)")
    parser.add_argument("--max-points", type=int, default=None, help="points per prediction (default 100000)")
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))


def main(args) -> int:
    serve(host=args.host, port=args.port, store=args.store, workers=args.workers, auth=args.auth,
          fit_workers=args.fit_workers, fit_timeout=args.fit_timeout, max_body_mb=args.max_body_mb,
          max_rows=args.max_rows, max_bootstrap=args.max_bootstrap, max_points=args.max_points,
          log_level=args.log_level)
    return 0
