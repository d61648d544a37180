"""Errors the service answers with: JSON ``{"error", "field", "message"}``, never a traceback.

``field`` names the request field at fault (``"law"``, ``"inputs"``, ``"X.N"``, ``"bootstrap"``,
``"body"``...), ``message`` is the library's own message where the library raised it, and
``error`` is a short machine-readable code.
"""

from __future__ import annotations

# Library exceptions that mean "your input is wrong" (everything else is a server fault).
INPUT_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, NotImplementedError, LookupError)


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, code: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or _CODES.get(status, "error")
        self.headers = headers

    def to_dict(self) -> dict:
        return {"error": self.code, "field": self.field, "message": self.message}


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "busy",
          500: "internal", 503: "unavailable"}

# Which request field a library message is about, from how the library words its messages
# (scalelaw.fitting.data / spec / objective name the argument first). First match wins.
_FIELD_HINTS = (
    ("unknown law", "law"),
    ("unknown option", "options"),
    ("inputs", "inputs"),
    ("(input ", "inputs"),
    ("input '", "inputs"),
    ("(target)", "target"),
    ("loss must", "loss"),
    ("delta", "delta"),
    ("fixed", "fixed"),
    ("bounds", "bounds"),
    ("weights", "weights"),
    ("schedule", "options.schedules"),
    ("warmup_steps", "options.warmup_steps"),
    ("seed", "seed"),
)


def message_of(err: BaseException) -> str:
    """The library's message (a KeyError's own text, not its repr)."""
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    return str(err) or type(err).__name__


def field_for(message: str, default: str | None) -> str | None:
    low = message.lower()
    for hint, field in _FIELD_HINTS:
        if hint in low:
            return field
    return default


def from_library(err: BaseException, default_field: str | None, *, guess: bool = True) -> ApiError:
    """A 400 naming the field, carrying the library's message."""
    msg = message_of(err)
    return ApiError(400, msg, field_for(msg, default_field) if guess else default_field)


def error_payload(err: BaseException, default_field: str | None, *, guess: bool = True) -> dict:
    """Plain-data error for crossing the worker-process pipe."""
    if isinstance(err, ApiError):
        return {"status": err.status, **err.to_dict()}
    if isinstance(err, INPUT_ERRORS):
        api = from_library(err, default_field, guess=guess)
        return {"status": api.status, **api.to_dict()}
    return {"status": 500, "error": "internal", "field": None,
            "message": f"internal error ({type(err).__name__}: {message_of(err)}); the server log has details"}
