"""The service's ASGI middleware: bearer token, body-size limit, metrics, the prediction fast path.

Pure ASGI (no task per request, no ``BaseHTTPMiddleware``): it sits on the hot path of every
prediction.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time

from fastapi.responses import JSONResponse, Response

from scalelaw.serve.config import Settings
from scalelaw.serve.errors import ApiError
from scalelaw.serve.metrics import Metrics

log = logging.getLogger("scalelaw.serve")

# Computations on stored fits that change nothing: reads, even though they are POSTs.
_READ_POSTS = re.compile(r"^/fits/[^/]+/(predict|optimum|reach)$")
_PREDICT_PATH = re.compile(r"^/fits/([^/]+)/predict$")


class JSON(JSONResponse):
    """JSON without NaN (non-finite numbers become null in :func:`jsonable`), compact."""

    def render(self, content) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


def error_response(err: ApiError) -> JSON:
    return JSON(err.to_dict(), status_code=err.status, headers=err.headers)


class BodyTooLarge(Exception):
    """Raised by the limited ``receive`` once a body passes the limit; whoever parses a body lets it
    through, so the middleware answers 413 (not the parser's own error)."""


# An error answered before the body is read would reset the connection under a client still
# sending it (most clients read the answer only after sending): read and drop up to this much.
_DRAIN_BYTES = 256 * 1024 * 1024


async def _drain(receive) -> None:
    seen = 0
    while seen <= _DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body"):
            return


class ServiceMiddleware:
    """Pure ASGI (no per-request task): auth, body-size limit, metrics, and the prediction fast path.

    ``POST /fits/{id}/predict`` is answered here by ``fast_predict`` (the same function the
    declared FastAPI route calls, so both answer alike): FastAPI's per-request machinery (route
    matching, dependency solving, request wrappers) costs several times a one-point prediction.
    """

    def __init__(self, app, settings: Settings, metrics: Metrics, fast_predict=None):
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.fast_predict = fast_predict
        self.token = settings.token.encode() if settings.token else None

    def _needs_token(self, method: str, path: str) -> bool:
        if self.token is None or path == "/healthz":
            return False
        if self.settings.auth == "all":
            return True
        return method in ("POST", "PUT", "DELETE", "PATCH") and not _READ_POSTS.match(path)

    def _authorized(self, scope) -> ApiError | None:
        header = b""
        for k, v in scope["headers"]:
            if k == b"authorization":
                header = v
                break
        scheme, _, given = header.partition(b" ")
        if not header:
            return ApiError(401, "this server needs a token: send 'Authorization: Bearer <token>'",
                            "Authorization", headers={"WWW-Authenticate": "Bearer"})
        # constant-time comparison: the time taken says nothing about how much of the token matched
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
            return ApiError(401, "invalid token", "Authorization", headers={"WWW-Authenticate": "Bearer"})
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = [500]
        started = [False]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                started[0] = True
            await send(message)

        method, path = scope["method"], scope["path"]
        try:
            err = self._authorized(scope) if self._needs_token(method, path) else None
            if err is None:
                err = self._check_length(scope)
            if err is not None:
                await _drain(receive)
                await error_response(err)(scope, receive, send_wrapper)
            else:
                limit = self.settings.max_body_bytes
                seen = [0]

                async def receive_limited():
                    message = await receive()
                    if message["type"] == "http.request":
                        seen[0] += len(message.get("body", b""))
                        if seen[0] > limit:
                            raise BodyTooLarge()
                    return message

                fast = _PREDICT_PATH.match(path) if method == "POST" and self.fast_predict else None
                try:
                    if fast:
                        scope["route_template"] = "/fits/{fit_id}/predict"
                        response = await self._fast(fast.group(1), receive_limited)
                        await response(scope, receive, send_wrapper)
                    else:
                        await self.app(scope, receive_limited, send_wrapper)
                except BodyTooLarge:
                    if started[0]:
                        raise
                    await _drain(receive)
                    await error_response(self._too_large())(scope, receive, send_wrapper)
        finally:
            template = scope.get("route_template") or getattr(scope.get("route"), "path", None) or "(unmatched)"
            self.metrics.observe(method, template, status[0], time.perf_counter() - t0)

    async def _fast(self, fit_id: str, receive) -> Response:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return Response(status_code=499)  # nobody is listening any more
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            return await self.fast_predict(fit_id, b"".join(chunks))
        except ApiError as err:
            return error_response(err)
        except Exception:  # noqa: BLE001 - the client gets JSON, the log gets the traceback
            log.exception("internal error on POST /fits/%s/predict", fit_id)
            return error_response(ApiError(500, "internal error; the server log has details", None, "internal"))

    def _too_large(self) -> ApiError:
        return ApiError(413, f"the request body is over this server's limit of {self.settings.max_body_mb:g} MB "
                        "(SCALELAW_MAX_UPLOAD_MB)", "body", "too_large")

    def _check_length(self, scope) -> ApiError | None:
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    return ApiError(400, "Content-Length is not a number", "Content-Length")
                return self._too_large() if n > self.settings.max_body_bytes else None
        return None
