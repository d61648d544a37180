"""Request bodies to library calls: shapes and types checked up front, errors naming the field.

Field names follow the library's keywords (``law``, ``inputs``, ``target``, ``loss``, ``delta``,
``fixed``, ``bounds``, ``weights``, ``seed``; a law's own options such as ``schedules`` either
at the top level, as ``sl.fit`` takes them, or under ``options``). Value checks the library
makes itself (unknown parameter in ``fixed``, a column that is not there) are left to it, so
the message is the library's.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from scalelaw.serve.errors import ApiError

FIT_FIELDS = ("law", "data", "inputs", "target", "loss", "delta", "fixed", "bounds", "weights", "seed", "options",
              "bootstrap", "split", "final_points", "frontier", "name", "tags", "read", "by")
READ_KEYS = ("format", "columns", "run", "metadata", "loss_unit", "split", "batch_size", "seq_len",
             "bytes_per_token", "table")
_TAG = re.compile(r"^[\w.:/=+-]{1,100}$")


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def invalid(field: str, expected: str, value) -> ApiError:
    shown = repr(value) if not isinstance(value, (dict, list)) else _kind(value)
    return ApiError(422, f"{field} must be {expected}, got {shown}", field, "invalid")


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def number(body, key, default=None, *, field=None, positive=False, finite=True):
    field = field or key
    v = body.get(key, default) if isinstance(body, dict) else body
    if v is None:
        return v
    if not is_number(v) or (finite and not math.isfinite(v)):
        raise invalid(field, "a finite number", v)
    if positive and v <= 0:
        raise ApiError(400, f"{field} must be > 0, got {v!r}", field)
    return v


def integer(body, key, default=None, *, minimum=None):
    v = body.get(key, default)
    if v is None:
        return v
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise invalid(key, "an integer", v)
    if minimum is not None and v < minimum:
        raise ApiError(400, f"{key} must be >= {minimum}, got {v}", key)
    return v


def string(body, key, default=None, *, field=None):
    v = body.get(key, default)
    if v is not None and not isinstance(v, str):
        raise invalid(field or key, "a string", v)
    return v


def mapping(body, key, *, field=None):
    v = body.get(key)
    if v is not None and not isinstance(v, dict):
        raise invalid(field or key, "an object", v)
    return v


def _object(pairs: list) -> dict:
    """A JSON object; a key given twice is an error (json.loads would keep the last silently:
    ``{"X": {"N": [1e9], "N": [2e9]}}`` would predict at 2e9 alone)."""
    d = dict(pairs)
    if len(d) != len(pairs):
        keys = [k for k, _ in pairs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ApiError(400, f"malformed JSON: key(s) {', '.join(map(repr, twice))} given twice in one object "
                       "(only the last would count)", twice[0], "malformed_json")
    return d


def parse_json(raw: bytes, field: str = "body"):
    if not raw.strip():
        raise ApiError(400, "the request body is empty; send a JSON object", field)
    try:
        return json.loads(raw, object_pairs_hook=_object)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"malformed JSON: {err}", field, "malformed_json") from None
    except RecursionError:  # e.g. [[[[...]]]] nested ~1,000 deep: the client's error, not a 500
        raise ApiError(400, "malformed JSON: nested too deeply to read (no request of this service "
                       "nests more than a few levels)", field, "malformed_json") from None


def object_body(value, field: str = "body") -> dict:
    if not isinstance(value, dict):
        raise invalid(field, "a JSON object", value)
    return value


# ---- POST /fits -----------------------------------------------------------------------------
def _data(value, max_rows: int) -> dict | list:
    """Records ``[{col: value}]`` or columns ``{col: [values]}``; the row count checked first."""
    scalar = (str, int, float, bool, type(None))
    if isinstance(value, list):
        if len(value) > max_rows:
            raise ApiError(413, f"{len(value)} rows of data; this server takes at most {max_rows} rows per fit "
                           "(SCALELAW_MAX_ROWS)", "data", "too_large")
        for i, row in enumerate(value):
            if not isinstance(row, dict):
                raise invalid(f"data[{i}]", "an object (one row: column -> value)", row)
            for col, v in row.items():
                if not isinstance(v, scalar):
                    raise invalid(f"data[{i}].{col}", "a number, string, boolean or null", v)
        return value
    if isinstance(value, dict):
        lengths = {}
        for col, vals in value.items():
            if not isinstance(vals, list):
                raise invalid(f"data.{col}", "a list (one value per row)", vals)
            lengths[col] = len(vals)
        if len(set(lengths.values())) > 1:
            raise ApiError(400, "data: columns must have equal lengths, got "
                           + ", ".join(f"{c}: {n}" for c, n in lengths.items()), "data")
        n = next(iter(lengths.values()), 0)
        if n > max_rows:
            raise ApiError(413, f"{n} rows of data; this server takes at most {max_rows} rows per fit "
                           "(SCALELAW_MAX_ROWS)", "data", "too_large")
        for col, vals in value.items():
            for i, v in enumerate(vals):
                if not isinstance(v, scalar):
                    raise invalid(f"data.{col}[{i}]", "a number, string, boolean or null", v)
        return value
    raise invalid("data", "a list of rows or an object of columns", value)


def parse_fit(body: dict, settings, *, files=None) -> dict:
    """A validated fit job for the worker process."""
    from scalelaw.fitting.objective import check_loss
    from scalelaw.laws import get_law

    law_name = body.get("law")
    if law_name is None:
        raise ApiError(422, f"law is required: one of {', '.join(_law_names())}", "law", "invalid")
    if not isinstance(law_name, str):
        raise invalid("law", "a string (a law name)", law_name)
    try:
        law = get_law(law_name)
    except ValueError as err:
        raise ApiError(400, str(err), "law") from None
    law_options = set(law.options)
    unknown = [k for k in body if k not in FIT_FIELDS and k not in law_options]
    if unknown:
        raise ApiError(422, f"unknown field(s) {', '.join(map(repr, unknown))}; fields: {', '.join(FIT_FIELDS)}"
                       + (f"; options of {law.name!r}: {', '.join(sorted(law_options))}" if law_options else ""),
                       unknown[0], "unknown_field")
    if body.get("by") is not None:
        raise ApiError(400, "by: grouped fits are not served; post one fit per group (filter the data per group)",
                       "by")
    if files:
        if body.get("data") is not None:
            raise ApiError(400, "give the data either as an uploaded file or as 'data', not both", "data")
        data = None
    else:
        if "data" not in body:
            raise ApiError(422, "data is required: rows [{column: value}] or columns {column: [values]} "
                           "(or upload a file as multipart/form-data)", "data", "invalid")
        data = _data(body["data"], settings.max_rows)
    inputs = mapping(body, "inputs")
    if inputs:
        for k, v in inputs.items():
            if not isinstance(v, str):
                raise invalid(f"inputs.{k}", "a column name (string)", v)
    target = string(body, "target", "loss")
    loss = string(body, "loss", "huber")
    delta = number(body, "delta", 1e-3)
    try:
        check_loss(loss, delta)
    except ValueError as err:
        raise ApiError(400, str(err), "delta" if str(err).startswith("delta") else "loss") from None
    fixed = mapping(body, "fixed")
    for k, v in (fixed or {}).items():
        if v is not None and not is_number(v):
            raise invalid(f"fixed.{k}", "a number (or null to free a parameter the law fixes)", v)
    bounds = mapping(body, "bounds")
    for k, v in (bounds or {}).items():
        if not (isinstance(v, list) and len(v) == 2 and all(is_number(x) or x is None for x in v)):
            raise invalid(f"bounds.{k}", "a [min, max] pair of numbers", v)
    if bounds:
        bounds = {k: tuple(math.inf if x is None and i else (-math.inf if x is None else x) for i, x in enumerate(v))
                  for k, v in bounds.items()}
    weights = body.get("weights")
    if weights is not None and not isinstance(weights, str):
        raise invalid("weights", "a column name (per-row weights)", weights)
    seed = integer(body, "seed", 0)
    options = dict(mapping(body, "options") or {})
    options.update({k: body[k] for k in law_options if k in body})
    boot = integer(body, "bootstrap", 0, minimum=0)
    if boot == 1:
        raise ApiError(400, "bootstrap must be 0 (none) or an integer >= 2, got 1", "bootstrap")
    if boot > settings.max_bootstrap:
        raise ApiError(422, f"bootstrap n = {boot} is over this server's limit of {settings.max_bootstrap} "
                       "(SCALELAW_MAX_BOOTSTRAP)", "bootstrap", "too_large")
    select = {"split": string(body, "split")}
    fp = body.get("final_points", False)
    if not isinstance(fp, bool):
        raise invalid("final_points", "true or false", fp)
    select["final_points"] = fp
    fr = body.get("frontier")
    if fr is True:
        select["frontier"] = {}
    elif isinstance(fr, dict):
        bad = [k for k in fr if k not in ("x", "y", "convex")]
        if bad:
            raise ApiError(422, f"frontier takes x, y and convex; got {', '.join(bad)}", "frontier", "invalid")
        select["frontier"] = fr
    elif fr not in (None, False):
        raise invalid("frontier", "true or an object {x, y}", fr)
    name = string(body, "name")
    if name is not None and len(name) > 200:
        raise ApiError(400, f"name is {len(name)} characters long; at most 200", "name")
    tags = parse_tags(body.get("tags"))
    read = mapping(body, "read") or {}
    bad = [k for k in read if k not in READ_KEYS]
    if bad:
        raise ApiError(422, f"read takes {', '.join(READ_KEYS)} (read_logs' options); got {', '.join(bad)}",
                       "read", "invalid")
    if read and not files:
        raise ApiError(400, "read options apply to uploaded files only", "read")
    fit_kwargs = dict(loss=loss, delta=delta, fixed=fixed, bounds=bounds, seed=seed, **options)
    if weights is not None:
        fit_kwargs["weights"] = weights
    return {"kind": "fit", "law": law.name, "data": data, "files": files, "read": read, "inputs": inputs,
            "target": target, "fit_kwargs": fit_kwargs, "bootstrap": boot, "select": select,
            "max_rows": settings.max_rows, "name": name, "tags": tags}


def parse_tags(tags) -> list:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or len(tags) > 32:
        raise invalid("tags", "a list of at most 32 strings", tags)
    for t in tags:
        if not isinstance(t, str) or not _TAG.match(t):
            raise ApiError(422, f"tags: {t!r} is not a tag (1-100 letters, digits or _.:/=+-)", "tags", "invalid")
    return tags


def _law_names():
    from scalelaw.laws import laws

    return laws()


# ---- POST /fits/{id}/predict --------------------------------------------------------------------
def parse_predict(body: dict, fit, settings) -> tuple[dict, int, float | None, str | None]:
    """(predict kwargs, number of points, interval level, interval kind)."""
    allowed = ("X", "schedule", "warmup_steps", "steps", "level", "kind")
    unknown = [k for k in body if k not in allowed]
    if unknown:
        raise ApiError(422, f"unknown field(s) {', '.join(map(repr, unknown))}; fields: {', '.join(allowed)}",
                       unknown[0], "unknown_field")
    level = number(body, "level")
    if level is not None and not 0 < level < 1:
        raise ApiError(400, f"level must be in (0, 1), got {level!r}", "level")
    kind = string(body, "kind")
    if kind not in (None, "calibrated", "parameter"):  # the library's message would name X
        raise ApiError(400, f"kind must be 'calibrated' or 'parameter', got {kind!r}", "kind")
    if kind is not None and level is None:
        raise ApiError(400, "kind chooses the interval: give level too", "kind")
    if level is not None and fit.draws is None:
        raise ApiError(400, "level: this fit has no bootstrap draws; fit it with bootstrap=N to get intervals",
                       "level")
    if "schedule" in body:
        if "X" in body:  # one of the two would be ignored
            raise ApiError(422, "give X (the law's inputs) or schedule (a schedule law's LR schedule), not both",
                           "X", "invalid")
        return _schedule_predict(body, settings), None, level, kind
    ignored = [k for k in ("warmup_steps", "steps") if k in body]
    if ignored:
        raise ApiError(422, f"{', '.join(ignored)} only go with a schedule (\"schedule\": ...); with X they would "
                       "be ignored", ignored[0], "invalid")
    X = body.get("X")
    if X is None:
        raise ApiError(422, "X is required: {input: value or [values]}, e.g. {\"N\": 7e10, \"D\": 1.4e12}"
                       + ("; this law predicts from a schedule: give \"schedule\"" if "schedules" in fit.law.options
                          else ""), "X", "invalid")
    if not isinstance(X, dict):
        raise invalid("X", "an object {input: value or [values]}", X)
    n = 1
    out = {}
    categorical = {i.name for i in fit.law.inputs if i.categorical}
    for name, v in X.items():
        if isinstance(v, list) and name not in categorical and set(map(type, v)) <= {int, float}:
            v = np.asarray(v, dtype=np.float64)  # the common case, checked in C: a list of numbers
        else:
            vals = v if isinstance(v, list) else [v]
            for i, x in enumerate(vals):
                if not (is_number(x) or (name in categorical and isinstance(x, str))):
                    raise invalid(f"X.{name}" + (f"[{i}]" if isinstance(v, list) else ""),
                                  "a string (a category)" if name in categorical else "a number", x)
        if isinstance(v, (list, np.ndarray)):
            if n != 1 and len(v) not in (1, n):
                raise ApiError(400, f"X: inputs must have equal lengths (or length 1); {name} has {len(v)}, "
                               f"another has {n}", f"X.{name}")
            n = max(n, len(v))
            if n > settings.max_points:
                raise ApiError(413, f"X.{name} has {len(v)} points; this server predicts at most "
                               f"{settings.max_points} per request (SCALELAW_MAX_POINTS)", f"X.{name}", "too_large")
        out[name] = v
    return {"X": out}, n, level, kind


FORECAST_FIELDS = ("data", "schedule", "law", "prior", "using", "schedules", "warmup_steps", "step", "target",
                   "split", "level", "n_boot", "interval", "seed")


def parse_forecast(body: dict, settings) -> dict:
    """A validated ``sl.forecast`` job (``prior`` is a stored fit's id, resolved by the caller)."""
    unknown = [k for k in body if k not in FORECAST_FIELDS]
    if unknown:
        raise ApiError(422, f"unknown field(s) {', '.join(map(repr, unknown))}; fields: {', '.join(FORECAST_FIELDS)}",
                       unknown[0], "unknown_field")
    for key in ("data", "schedule"):
        if key not in body:
            raise ApiError(422, f"{key} is required: the logged part of the run (rows or columns) and its full "
                           "planned schedule (a string or the lr of every step)", key, "invalid")
    data = _data(body["data"], settings.max_rows)
    steps = _schedule_predict({"schedule": body["schedule"]}, settings)
    using = _data(body["using"], settings.max_rows) if body.get("using") is not None else None
    # only what was given: the library's defaults stay the library's
    kwargs = {"schedule": steps["schedule"]}
    for key, check in (("law", string), ("step", string), ("target", string), ("split", string),
                       ("interval", string), ("level", number)):
        if body.get(key) is not None:
            kwargs[key] = check(body, key)
    for key in ("warmup_steps", "seed", "n_boot"):
        if body.get(key) is not None:
            kwargs[key] = integer(body, key, minimum=0)
    if kwargs.get("n_boot", 0) > settings.max_bootstrap:
        raise ApiError(422, f"n_boot = {kwargs['n_boot']} is over this server's limit of {settings.max_bootstrap} "
                       "(SCALELAW_MAX_BOOTSTRAP)", "n_boot", "too_large")
    if body.get("schedules") is not None:
        kwargs["schedules"] = mapping(body, "schedules")
    prior = string(body, "prior")
    return {"kind": "forecast", "data": data, "using": using, "kwargs": kwargs, "prior": prior}


def _schedule_predict(body, settings) -> dict:
    from scalelaw.schedules import parse_spec

    sched = body["schedule"]
    if isinstance(sched, str):
        try:
            _, params = parse_spec(sched)
        except (ValueError, TypeError, KeyError) as err:
            raise ApiError(400, str(err), "schedule") from None
        steps = params.get("n_steps")
    elif isinstance(sched, list):
        for i, x in enumerate(sched):
            if not is_number(x):
                raise invalid(f"schedule[{i}]", "a number (the learning rate at that step)", x)
        steps = len(sched)
    else:
        raise invalid("schedule", "a schedule string (e.g. cosine:n_steps=1000,peak=3e-4) or a list of "
                      "learning rates", sched)
    if is_number(steps) and steps > settings.max_points:
        raise ApiError(413, f"the schedule has {int(steps)} steps; this server predicts at most "
                       f"{settings.max_points} points per request (SCALELAW_MAX_POINTS)", "schedule", "too_large")
    kwargs = {"schedule": sched, "warmup_steps": integer(body, "warmup_steps", 0, minimum=0)}
    if body.get("steps") is not None:
        st = body["steps"]
        if not isinstance(st, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in st):
            raise invalid("steps", "a list of integer steps", st)
        kwargs["steps"] = st
    return kwargs


# ---- request schemas for the OpenAPI docs (/docs); the checks above are what is enforced ----
FIT_SCHEMA = {
    "type": "object", "required": ["law", "data"],
    "properties": {
        "law": {"type": "string", "example": "chinchilla"},
        "data": {"description": "rows [{column: value}] or columns {column: [values]}",
                 "oneOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}]},
        "inputs": {"type": "object", "example": {"N": "n_params", "D": "n_tokens"}},
        "target": {"type": "string", "default": "loss"},
        "loss": {"type": "string", "enum": ["huber", "squared", "huber_linear", "squared_linear"]},
        "delta": {"type": "number", "default": 1e-3},
        "fixed": {"type": "object"}, "bounds": {"type": "object"},
        "weights": {"type": "string", "description": "column of per-row weights"},
        "seed": {"type": "integer", "default": 0},
        "options": {"type": "object", "description": "law options (schedules, warmup_steps, side, eps, ...); "
                    "they may also be given at the top level"},
        "bootstrap": {"type": "integer", "default": 0, "description": "bootstrap resamples (intervals)"},
        "split": {"type": "string"}, "final_points": {"type": "boolean"},
        "frontier": {"description": "true or {x, y}: fit the compute-efficient frontier"},
        "name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
    },
}
PREDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "X": {"type": "object", "example": {"N": [7e10], "D": [1.4e12]}},
        "schedule": {"description": "schedule laws: a schedule string or the lr of every step"},
        "warmup_steps": {"type": "integer"}, "steps": {"type": "array", "items": {"type": "integer"}},
        "level": {"type": "number", "description": "interval level (needs a bootstrapped fit)"},
        "kind": {"type": "string", "description": "interval kind, where the library has several"},
    },
}
