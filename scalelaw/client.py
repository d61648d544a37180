"""``sl.Client``: the Python client of ``scalelaw serve`` (standard library only).

>>> import scalelaw as sl                                                  # doctest: +SKIP
>>> c = sl.Client("http://127.0.0.1:8000", token=None)                    # doctest: +SKIP
>>> rf = c.fit("chinchilla", points, inputs={"N": "n_params", "D": "n_tokens"}, target="loss")  # doctest: +SKIP
>>> rf.id, rf.params                                                      # doctest: +SKIP
>>> rf.predict({"N": 7e10, "D": 1.4e12})                                  # doctest: +SKIP
>>> c.get(rf.id); c.list(); c.delete(rf.id); c.laws()                     # doctest: +SKIP

A :class:`RemoteFit` answers like a :class:`~scalelaw.result.FitResult` (``params``,
``warnings``, ``predict``, ``predict_interval``, ``optimum``, ``reach``) by asking the service;
``rf.local()`` downloads the full fit as a local ``FitResult``. Errors the service reports come
back as :class:`ServiceError` (a ``ValueError``) with the library's message and the field.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import math
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, urlencode, urlsplit

import numpy as np

# uvicorn closes idle keep-alive connections after 5 s: reconnect before sending on an older one.
_IDLE_RECONNECT_S = 4.0


class ServiceError(ValueError):
    """An error answer of the service: ``status`` (HTTP), ``field`` (the request field at fault),
    ``code`` (e.g. ``"too_large"``); ``str(err)`` is the message (the library's, where it raised)."""

    def __init__(self, status: int, message: str, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.code = status, message, field, code


def _plain(value):
    """Arrays, numpy scalars and NaN to JSON (NaN and inf become null)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # timestamps and the like


def _columns(data) -> dict:
    """A DataFrame or dict of columns as JSON columns."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return {str(c): _plain(data[c].to_numpy()) for c in data.columns}
    if isinstance(data, Mapping):
        return {str(c): _plain(np.atleast_1d(np.asarray(v))) for c, v in data.items()}
    if isinstance(data, list):
        return _plain(data)
    raise TypeError(f"data must be a DataFrame, a dict of columns, a list of rows or a file path, "
                    f"got {type(data).__name__}")


# a host name (dot-separated labels) or IPv4 address; underscores allowed: container names use them
_HOST = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")


def _check_url(url):
    """``(urlsplit parts, port or None)`` of a base URL ``http://host:port[/prefix]`` (scheme optional),
    or a ValueError naming the URL. Checked here, at construction: a malformed one (``"not a url"``)
    otherwise reached the first request and came back as http.client's InvalidURL, naming no
    expected form; a bad port came back from urllib without the URL."""
    expected = "a base URL like http://host:port (e.g. http://127.0.0.1:8000; https:// also works)"
    if not isinstance(url, str):
        raise TypeError(f"url must be a string, {expected}; got {type(url).__name__}")
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"url {url!r} is not a URL (empty, or has spaces or control characters): give {expected}")
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
    except ValueError as err:  # urllib's own ("'x' does not appear to be an IPv4 or IPv6 address") names no URL
        raise ValueError(f"url {url!r} is not a URL ({err}): give {expected}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"url must be http:// or https://, got {url!r}: give {expected}")
    host = parts.hostname
    if not host:
        raise ValueError(f"url {url!r} names no host: give {expected}")
    if ":" in host:  # an IPv6 address, written [::1] in the URL
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"url {url!r}: {host!r} is not an IPv6 address: give {expected}") from None
    elif not _HOST.fullmatch(host):
        raise ValueError(f"url {url!r}: {host!r} is not a host name or address: give {expected}")
    try:
        port = parts.port
    except ValueError:  # urllib's own message ("Port could not be cast to integer value as 'x'") names no URL
        raise ValueError(f"url {url!r} has no valid port (an integer in 0-65535): give {expected}") from None
    if parts.query or parts.fragment:
        raise ValueError(f"url {url!r} has a query or fragment ('?', '#'): give {expected}")
    return parts, port


class Client:
    """A connection to ``scalelaw serve`` at ``url``.

    ``token``: the server's ``SCALELAW_TOKEN`` (default: the same environment variable, if set).
    """

    def __init__(self, url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 600.0):
        parts, port = _check_url(url)
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self.token = token if token is not None else os.environ.get("SCALELAW_TOKEN") or None
        self.timeout = timeout
        self._local = threading.local()

    def __repr__(self):
        return f"Client({self.url!r})"

    # ---- transport ---------------------------------------------------------------------------
    def _connection(self, fresh: bool = False):
        conn, last = getattr(self._local, "conn", None), getattr(self._local, "last", 0.0)
        if conn is not None and (fresh or time.monotonic() - last > _IDLE_RECONNECT_S):
            conn.close()
            conn = None
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body=None, *, raw: bytes | None = None,
                content_type: str = "application/json", query: dict | None = None, retry: bool = True):
        """One call; returns the decoded JSON (or text) answer, raises :class:`ServiceError`."""
        url = self._prefix + path + (("?" + urlencode(query, doseq=True)) if query else "")
        payload = raw if raw is not None else (None if body is None else
                                               json.dumps(body, allow_nan=False).encode())
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt > 0)
            try:
                conn.request(method, url, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as err:
                conn.close()
                self._local.conn = None
                if attempt == 0 and retry:
                    continue  # a keep-alive connection the server had closed: once more on a new one
                raise ConnectionError(f"{method} {self.url}{path}: {err}") from None
            except OSError as err:
                conn.close()
                self._local.conn = None
                raise ConnectionError(f"{method} {self.url}{path}: cannot reach the service ({err})") from None
            self._local.last = time.monotonic()
            break
        ctype = resp.getheader("Content-Type", "")
        decoded = json.loads(data) if data and "json" in ctype else (data.decode() if data else None)
        if resp.status >= 400:
            if isinstance(decoded, dict) and "message" in decoded:
                raise ServiceError(resp.status, decoded["message"], decoded.get("field"), decoded.get("error"))
            raise ServiceError(resp.status, f"HTTP {resp.status}: {decoded!r}")
        return decoded

    # ---- the service -------------------------------------------------------------------------
    def health(self) -> dict:
        return self.request("GET", "/healthz")

    def laws(self) -> list:
        """Names of the laws the service fits (``sl.laws()`` there)."""
        return [d["name"] for d in self.request("GET", "/laws")["laws"]]

    def law(self, name: str) -> dict:
        """A law's description: formula, inputs, parameters with bounds, options, paper."""
        return self.request("GET", f"/laws/{quote(name, safe='')}")

    def fit(self, law: str, data, inputs: dict | None = None, target: str = "loss", *, bootstrap: int = 0,
            name: str | None = None, tags=None, split: str | None = None, final_points: bool = False,
            frontier=None, read: dict | None = None, **kwargs) -> "RemoteFit":
        """``sl.fit`` on the service, stored there: returns a :class:`RemoteFit`.

        ``data``: a DataFrame, a dict of columns, a list of rows, or a path to a log file (or a
        list of paths) the service reads like ``read_logs`` (``read=`` passes its options).
        ``kwargs``: the options of ``sl.fit`` (loss, delta, fixed, bounds, weights as a column
        name, seed) and the law's own (schedules, warmup_steps, side, ...).
        ``split``/``final_points``/``frontier`` select points on the service before fitting.
        """
        body: dict[str, Any] = {"law": law, "target": target}
        if inputs is not None:
            body["inputs"] = dict(inputs)
        if bootstrap:
            body["bootstrap"] = bootstrap
        for key, value in (("name", name), ("tags", tags), ("split", split), ("frontier", frontier)):
            if value is not None:
                body[key] = value
        if final_points:
            body["final_points"] = True
        for key, value in kwargs.items():
            if key == "bounds" and value is not None:
                value = {k: [None if v is None or (isinstance(v, float) and math.isinf(v)) else v for v in pair]
                         for k, pair in value.items()}
            body[key] = _plain(value)
        if isinstance(data, (str, Path)) or (isinstance(data, (list, tuple)) and data
                                              and all(isinstance(d, (str, Path)) for d in data)):
            if read:
                body["read"] = read
            paths = [data] if isinstance(data, (str, Path)) else list(data)
            raw, ctype = _multipart(body, paths)
            answer = self.request("POST", "/fits", raw=raw, content_type=ctype, retry=False)
        else:
            if read:
                raise ValueError("read= applies to files given by path")
            body["data"] = _columns(data)
            answer = self.request("POST", "/fits", body, retry=False)
        fit = RemoteFit(self, answer)
        _warn(fit.notes)  # what reading the data skipped: warned here, as read_logs warns locally
        return fit

    def forecast(self, partial, schedule, law: str = "lr_annealing", *, prior=None, using=None, **kwargs) -> dict:
        """``sl.forecast`` on the service: the final loss of a run in progress. ``prior``: a
        stored fit (its id or a RemoteFit); ``using``: finished curves (with ``schedules=``)."""
        body = {"data": _columns(partial), "schedule": _plain(schedule), "law": law, **_plain(kwargs)}
        if prior is not None:
            body["prior"] = getattr(prior, "id", prior)
        if using is not None:
            body["using"] = _columns(using)
        return self.request("POST", "/forecast", body, retry=False)

    def get(self, fit_id: str) -> "RemoteFit":
        return RemoteFit(self, self.request("GET", f"/fits/{quote(fit_id, safe='')}"))

    def list(self, *, law: str | None = None, name: str | None = None, tag: str | None = None,
             data_hash: str | None = None, limit: int = 100, offset: int = 0) -> list:
        """Metadata of stored fits (id, law, created, data_hash, name, tags, n_points), newest first."""
        query = {k: v for k, v in dict(law=law, name=name, tag=tag, data_hash=data_hash).items() if v is not None}
        query.update(limit=limit, offset=offset)
        return self.request("GET", "/fits", query=query)["fits"]

    def delete(self, fit_id: str) -> None:
        self.request("DELETE", f"/fits/{quote(fit_id, safe='')}")

    def put(self, fit, fit_id: str, *, name: str | None = None, tags=None) -> "RemoteFit":
        """Store a fit saved with ``fit.save`` (a FitResult, its dict, or the file's path) under ``fit_id``."""
        if isinstance(fit, (str, Path)):
            raw = Path(fit).read_bytes()
        else:
            saved = fit.to_dict() if hasattr(fit, "to_dict") else fit
            raw = json.dumps(saved, indent=1).encode()
        query = {k: v for k, v in (("name", name), ("tag", tags)) if v}
        return RemoteFit(self, self.request("PUT", f"/fits/{quote(fit_id, safe='')}", raw=raw, query=query or None))


def _multipart(params: dict, paths) -> tuple[bytes, str]:
    boundary = "scalelaw-" + uuid.uuid4().hex
    parts = [(f'--{boundary}\r\nContent-Disposition: form-data; name="params"\r\n'
              "Content-Type: application/json\r\n\r\n").encode() + json.dumps(params).encode() + b"\r\n"]
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such file (give files; zip a directory's logs or list them)")
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{p.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        parts.append(head + p.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _warn(messages) -> None:
    """The service's warnings, raised here as the library raises them locally."""
    if not messages:
        return
    import warnings

    from scalelaw.result import ExtrapolationWarning

    for msg in messages:
        warnings.warn(msg, ExtrapolationWarning if msg.startswith("extrapolating") else UserWarning, stacklevel=3)


class RemoteFit:
    """A fit stored on the service: plain attributes from its answer, methods that ask it."""

    def __init__(self, client: Client, answer: dict):
        self.client = client
        self.answer = answer
        self.id: str = answer["id"]
        self.law: str = answer["law"]
        self.params: dict = dict(answer["params"])
        self.objective: float = answer["objective"]
        self.warnings: list = list(answer.get("warnings", []))
        # what the service said while reading the data (lines skipped, ...): only a new fit's answer has them
        self.notes: list = list(answer.get("notes", []))
        self.n_points: int = answer["n_points"]
        self.inputs: dict = dict(answer.get("inputs", {}))
        self.target: str = answer.get("target")
        self.intervals: dict | None = answer.get("intervals")
        self.name, self.tags, self.created = answer.get("name"), answer.get("tags", []), answer.get("created")
        self.data_hash: str = answer.get("data_hash")

    def __repr__(self):
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<RemoteFit {self.id} {self.law}: {ps}; objective={self.objective:.4g}, n={self.n_points}>"

    def _path(self, action: str) -> str:
        return f"/fits/{quote(self.id, safe='')}/{action}"

    def _X(self, X, kwargs) -> dict:
        if X is None:
            X = {}
        elif hasattr(X, "columns") and hasattr(X, "rename"):
            rename = {col: n for n, col in self.inputs.items() if col in X.columns and n not in X.columns}
            X = {c: X[c].to_numpy() for c in X.rename(columns=rename).columns}
        elif not isinstance(X, Mapping):
            raise TypeError(f"predict takes a dict of inputs or a DataFrame, got {type(X).__name__}")
        return {**X, **kwargs}

    def _predict_body(self, X, kwargs) -> dict:
        X = self._X(X, kwargs)
        body = {}
        for key in ("schedule", "warmup_steps", "steps"):
            if key in X:
                body[key] = _plain(X.pop(key))
        if X or "schedule" not in body:
            body["X"] = {k: _plain(np.atleast_1d(np.asarray(v))) if not isinstance(v, str) else v
                         for k, v in X.items()}
        return body

    def predict(self, X=None, **kwargs) -> np.ndarray:
        """The service's ``fit.predict(X)`` (schedule laws: ``predict(schedule=..., warmup_steps=...)``)."""
        out = self.client.request("POST", self._path("predict"), self._predict_body(X, kwargs))
        _warn(out.get("warnings"))
        return np.array([np.nan if v is None else v for v in out["prediction"]], dtype=float)

    def predict_interval(self, X=None, level: float = 0.95, kind: str | None = None, **kwargs):
        """``(lower, upper)`` bands from the fit's bootstrap draws, computed on the service."""
        body = self._predict_body(X, kwargs)
        body["level"] = level
        if kind is not None:
            body["kind"] = kind
        out = self.client.request("POST", self._path("predict"), body)
        return (np.array(out["lower"], dtype=float), np.array(out["upper"], dtype=float))

    def optimum(self, **kwargs) -> dict:
        return self.client.request("POST", self._path("optimum"), _plain(kwargs))

    def optimal_schedule(self, n_steps: int, peak: float, **kwargs) -> dict:
        """Schedule laws: the service's ``fit.optimal_schedule(n_steps, peak, **kwargs)``."""
        return self.client.request("POST", self._path("optimal_schedule"),
                                   _plain({"n_steps": n_steps, "peak": peak, **kwargs}))

    def reach(self, loss: float, **given) -> dict:
        return self.client.request("POST", self._path("reach"), _plain({"loss": loss, **given}))

    def backtest(self, holdout=None) -> dict:
        """``sl.backtest`` on the fit's own data and settings: ``{"summary", "table" (DataFrame), ...}``."""
        import pandas as pd

        body = {} if holdout is None else {"holdout": _plain(list(holdout) if isinstance(holdout, tuple) else holdout)}
        out = self.client.request("POST", self._path("backtest"), body)
        out["table"] = pd.DataFrame(out["table"])
        return out

    def saved(self) -> dict:
        """The fit as ``fit.save`` wrote it."""
        return self.client.request("GET", f"/fits/{quote(self.id, safe='')}/json")

    def local(self):
        """A local :class:`~scalelaw.result.FitResult` (bootstrap draws included)."""
        from scalelaw.result import FitResult

        return FitResult.from_dict(self.saved())

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.saved(), fh, indent=1)

    def delete(self) -> None:
        self.client.delete(self.id)
