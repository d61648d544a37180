"""The HTTP API (FastAPI): fits kept in a store, predictions for programs.

Routes mirror the library: ``GET /laws``; ``POST /fits`` (= ``sl.fit`` + ``fit.bootstrap``),
``GET /fits``, ``GET|DELETE /fits/{id}``, ``PUT /fits/{id}`` (a file ``fit.save`` wrote),
``GET /fits/{id}/json``; ``POST /fits/{id}/predict|optimum|reach|backtest|optimal_schedule``; ``POST /forecast``; ``GET /healthz``,
``GET /metrics``. OpenAPI docs at ``/docs``.

Start it with ``scalelaw serve`` or ``uvicorn --factory scalelaw.serve.app:create_app``
(settings from the environment, see :mod:`scalelaw.serve.config`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import sqlite3
import warnings
from collections import OrderedDict
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from scalelaw.serve import requests as rq
from scalelaw.serve.config import Settings
from scalelaw.serve.errors import INPUT_ERRORS, ApiError, from_library
from scalelaw.serve.metrics import Metrics
from scalelaw.serve.middleware import JSON, BodyTooLarge, ServiceMiddleware, error_response
from scalelaw.serve.pool import FitPool
from scalelaw.serve.store import ID_PATTERN, ConflictError, FitStore, StoreError
from scalelaw.serve.summary import fit_summary, jsonable

log = logging.getLogger("scalelaw.serve")

# A prediction whose (points x draws) work is above this runs in a thread, not on the event loop.
_INLINE_WORK = 2_000
# Intervals are computed over chunks of points so draws x points stays bounded in memory.
_INTERVAL_CHUNK = 5_000


class FitCache:
    """Loaded fits by id, each kept with the sha256 of the JSON it was loaded from; LRU-bounded.

    A stored fit never changes, but an id can be reused: DELETE then PUT stores another fit under
    it, possibly through another server process (``--workers N`` share the store) whose DELETE
    never reached this cache. So each lookup asks the store for the id's current digest (one
    indexed read, what an existence check costs) and loads again when it differs: a deleted fit
    is gone here too, and a replaced one is never answered from the old copy.
    """

    def __init__(self, store: FitStore, maxsize: int = 256):
        self.store = store
        self.maxsize = maxsize
        self._fits: OrderedDict = OrderedDict()

    async def get(self, fit_id: str):
        digest = self.store.digest(fit_id)
        if digest is None:
            raise ApiError(404, f"no fit with id {fit_id!r}", "id")
        cached = self._fits.get(fit_id)
        if cached is not None and cached[0] == digest:
            self._fits.move_to_end(fit_id)
            return cached[1]
        loaded_digest, fit = await run_in_threadpool(self._load, fit_id)
        self._fits[fit_id] = (loaded_digest, fit)
        self._fits.move_to_end(fit_id)
        while len(self._fits) > self.maxsize:
            self._fits.popitem(last=False)
        return fit

    def _load(self, fit_id: str):
        """(digest of the text loaded, the fit): the digest of what was read, not of what was
        asked for, so a fit replaced between the two is reloaded on the next lookup."""
        from scalelaw.result import FitResult

        text = self.store.get_text(fit_id)
        if text is None:
            raise ApiError(404, f"no fit with id {fit_id!r}", "id")
        return hashlib.sha256(text.encode()).hexdigest(), FitResult.from_dict(json.loads(text))

    def drop(self, fit_id: str) -> None:
        self._fits.pop(fit_id, None)


async def _json_body(request: Request) -> dict:
    return rq.object_body(rq.parse_json(await request.body()))


def _check_id(fit_id: str) -> None:
    if not ID_PATTERN.match(fit_id):
        raise ApiError(400, f"id {fit_id!r} is not a valid id (1-64 letters, digits, '_', '.', '-', "
                       "starting with a letter or digit)", "id")


def _law_description(name: str) -> dict:
    from scalelaw.laws import get_law

    law = get_law(name)
    d = law.describe()
    d["bounds"] = {p.name: [p.min, p.max] for p in law.params}
    d["default_fixed"] = law.default_fixed()
    d["options"] = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
                    for k, v in law.options.items()}
    return jsonable(d)


def _predict(fit, kwargs: dict, level, kind) -> dict:
    pred = fit.predict(**kwargs, warn=False)  # the answer says how far it extrapolates, below
    out = {"prediction": pred}
    notes = []
    if "schedule" in kwargs:
        steps = kwargs.get("steps")
        out["step"] = np.asarray(steps) if steps is not None else np.arange(1, len(pred) + 1)
    else:
        from scalelaw.result import extrapolation_message

        out["extrapolation"] = fit.extrapolation(kwargs["X"])
        far = extrapolation_message(out["extrapolation"])
        if far:  # the library's ExtrapolationWarning, in its words
            notes.append(far)
    if level is not None:
        extra = {"kind": kind} if kind is not None else {}
        if "X" in kwargs and len(pred) > _INTERVAL_CHUNK:
            X = {k: np.broadcast_to(np.asarray(v), pred.shape) for k, v in kwargs["X"].items()}
            parts = [fit.predict_interval({k: v[i:i + _INTERVAL_CHUNK] for k, v in X.items()}, level=level, warn=False,
                                          **extra)
                     for i in range(0, len(pred), _INTERVAL_CHUNK)]
            lo, hi = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        else:
            lo, hi = fit.predict_interval(**kwargs, level=level, warn=False, **extra)  # its reach note: below
        out.update(level=level, lower=lo, upper=hi)
        beyond = fit.beyond_reach(**kwargs) if kind in (None, "calibrated") else None
        if beyond:  # the library's BeyondReachWarning, in its words
            notes.append(beyond)
        if kind is not None:
            out["kind"] = kind
    bad = int(np.count_nonzero(~np.isfinite(pred)))
    if bad:
        notes.append(f"{bad} prediction(s) are not finite (null here): inputs far outside the law's range?")
    if notes:
        out["warnings"] = notes
    return jsonable(out)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app (a factory: ``uvicorn --factory scalelaw.serve.app:create_app``)."""
    from scalelaw.result import ExtrapolationWarning

    # answers carry "extrapolation" and "warnings"; the same warning on the server's stderr is noise
    warnings.filterwarnings("ignore", category=ExtrapolationWarning)
    settings = settings or Settings.from_env()
    store = FitStore(settings.store)
    metrics = Metrics()
    pool = FitPool(settings.fit_workers, settings.max_queued_fits, metrics, nice=settings.fit_nice)
    cache = FitCache(store)

    @asynccontextmanager
    async def lifespan(app):
        # the first interval would otherwise import scipy.stats (a second) on the event loop
        asyncio.get_running_loop().run_in_executor(None, _warm_imports)
        await pool.start()
        try:
            yield
        finally:
            await pool.close()
            # a stopped server leaves the whole store in fits.sqlite3 (not half of it in the -wal
            # file), so copying that one file is a complete backup
            try:
                if not store.checkpoint():  # another process (--workers N) uses it: the last one out does it
                    log.info("store %s: another server process is using the store; it checkpoints when it stops",
                             store.path)
            except sqlite3.Error as err:
                log.error("store %s: final checkpoint failed: %s", store.path, err)

    app = FastAPI(title="scalelaw", description="Scaling-law fits kept in a store, predictions over HTTP. "
                  "Errors are JSON {error, field, message}.", version=_version(), lifespan=lifespan,
                  default_response_class=JSON)
    app.state.settings, app.state.store, app.state.pool, app.state.metrics = settings, store, pool, metrics

    # ---- errors: always JSON {error, field, message} ----------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request, err: ApiError):
        return error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, err):
        return error_response(ApiError(err.status_code, str(err.detail), None, headers=getattr(err, "headers", None)))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, err):
        first = err.errors()[0] if err.errors() else {}
        loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path")]
        msg = first.get("msg", "invalid value")
        return error_response(ApiError(422, f"{'.'.join(loc)}: {msg}" if loc else msg, ".".join(loc) or None,
                                        "invalid"))

    @app.exception_handler(StoreError)
    async def _store_error(request, err):
        log.error("store error: %s", err)
        return error_response(ApiError(500, str(err), None, "store"))

    @app.exception_handler(Exception)
    async def _internal(request, err):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(ApiError(500, f"internal error ({type(err).__name__}); the server log has details",
                                        None, "internal"))

    # ---- service -------------------------------------------------------------------------
    @app.get("/healthz", summary="Liveness: the store opens and fit workers are ready")
    async def healthz():
        return JSON({"status": "ok", "version": _version(), "fits": store.count(), "fit_workers_ready": pool.ready,
                     "limits": settings.public()})

    @app.get("/metrics", summary="Prometheus text format: requests, latency histogram, fits stored")
    def prometheus():
        text = metrics.render(fits_stored=store.count(), fits_running=pool.running, fits_queued=pool.queued)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    # ---- laws ----------------------------------------------------------------------------
    @app.get("/laws", summary="The laws: formula, inputs, parameters (bounds), options, paper")
    def list_laws():
        from scalelaw.laws import laws

        return {"laws": [_law_description(n) for n in laws()]}

    @app.get("/laws/{name}", summary="One law's description")
    def get_law(name: str):
        try:
            return _law_description(name)
        except ValueError as err:
            raise ApiError(404, str(err), "name") from None

    # ---- fits ----------------------------------------------------------------------------
    async def run_job(job: dict):
        """Run a job in a fit worker (under the fit time limit); its error becomes the client's error."""
        answer = await pool.run(job, settings.fit_timeout_s)
        if "error" in answer:
            e = answer["error"]
            raise ApiError(e["status"], e["message"], e["field"], e["error"])
        return answer["ok"]

    async def run_on_stored_fit(fit_id: str, job: dict):
        """Run a job on a stored fit's saved JSON (404 when there is no such fit)."""
        if not store.exists(fit_id):
            raise ApiError(404, f"no fit with id {fit_id!r}", "id")
        text = await run_in_threadpool(store.get_text, fit_id)
        return await run_job({**job, "saved": json.loads(text)})

    @app.post("/fits", status_code=201, summary="Fit a law (sl.fit) and store it",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": rq.FIT_SCHEMA},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                      "params": {"type": "string", "description": "the JSON fields, without data"}}}}}}})
    async def create_fit(request: Request):
        files = None
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            body, files = await _multipart(request)
        else:
            body = await _json_body(request)
        job = rq.parse_fit(body, settings, files=files)
        ok = await run_job(job)
        meta = await run_in_threadpool(store.add, ok["saved"], name=job["name"], tags=job["tags"])
        metrics.fits_created += 1
        return JSON(_fit_answer(meta, ok["summary"], notes=ok["notes"]), status_code=201,
                    headers={"Location": f"/fits/{meta['id']}"})

    @app.get("/fits", summary="Stored fits, newest first; filter by law, name, tag, data_hash")
    def list_fits(law: str | None = None, name: str | None = None, tag: str | None = None,
                  data_hash: str | None = None, limit: int = 100, offset: int = 0):
        if not 1 <= limit <= 1000:
            raise ApiError(400, f"limit must be in 1..1000, got {limit}", "limit")
        if not 0 <= offset < 2**63:  # SQLite integers are 64-bit: a larger one was a 500 (OverflowError)
            raise ApiError(400, f"offset must be in 0..{2**63 - 1}, got {offset}", "offset")
        return store.list(law=law, name=name, tag=tag, data_hash=data_hash, limit=limit, offset=offset)

    @app.get("/fits/{fit_id}", summary="One fit: metadata, parameters, intervals, warnings")
    async def get_fit(fit_id: str):
        fit = await cache.get(fit_id)
        meta = await run_in_threadpool(store.meta, fit_id)
        if meta is None:
            raise ApiError(404, f"no fit with id {fit_id!r}", "id")
        return _fit_answer(meta, fit_summary(fit))

    @app.get("/fits/{fit_id}/json", summary="The fit as fit.save wrote it (sl.load_fit reads it)")
    def get_fit_json(fit_id: str):
        text = store.get_text(fit_id)
        if text is None:
            raise ApiError(404, f"no fit with id {fit_id!r}", "id")
        return Response(text, media_type="application/json")

    @app.put("/fits/{fit_id}", summary="Store a fit saved with fit.save under this id (immutable)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "description": "the JSON fit.save writes"}}}}})
    async def put_fit(fit_id: str, request: Request, name: str | None = None,
                      tag: list[str] | None = Query(None)):
        _check_id(fit_id)
        tags = rq.parse_tags(tag)
        saved = await _json_body(request)
        if "groups" in saved:
            raise ApiError(400, "a grouped fit holds several laws; PUT each group's fit under its own id", "body")
        fit = await run_in_threadpool(_load_saved, saved)
        try:
            meta = await run_in_threadpool(store.add, saved, fit_id=fit_id, name=name, tags=tags)
        except ConflictError as err:
            raise ApiError(409, str(err), "id") from None
        if meta["created_now"]:
            metrics.fits_created += 1
        return JSON(_fit_answer(meta, fit_summary(fit)), status_code=201 if meta["created_now"] else 200,
                    headers={"Location": f"/fits/{fit_id}"})

    @app.delete("/fits/{fit_id}", status_code=204, summary="Delete a fit")
    def delete_fit(fit_id: str):
        if not store.delete(fit_id):
            raise ApiError(404, f"no fit with id {fit_id!r}", "id")
        cache.drop(fit_id)
        return Response(status_code=204)

    # ---- answers from a stored fit ----------------------------------------------------------
    async def predict_answer(fit_id: str, raw: bytes) -> JSON:
        body = rq.object_body(rq.parse_json(raw))
        fit = await cache.get(fit_id)
        kwargs, n, level, kind = rq.parse_predict(body, fit, settings)
        # intervals go to a thread: bootstrap draws, and a fit saved without its calibration
        # calibrates on first use (refits, seconds)
        work = (n or settings.max_points) if level is None else math.inf
        try:
            if work <= _INLINE_WORK:
                out = _predict(fit, kwargs, level, kind)
            else:
                out = await run_in_threadpool(_predict, fit, kwargs, level, kind)
        except INPUT_ERRORS as err:
            raise from_library(err, "X" if "X" in kwargs else "schedule") from None
        n_out = len(out["prediction"])
        if n_out > settings.max_points:  # a schedule given as lr array + steps, or broadcasting
            raise ApiError(413, f"{n_out} points; this server predicts at most {settings.max_points} per request "
                           "(SCALELAW_MAX_POINTS)", "X" if "X" in kwargs else "schedule", "too_large")
        return JSON(out)

    @app.post("/fits/{fit_id}/predict", summary="fit.predict (and predict_interval with level)",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": rq.PREDICT_SCHEMA}}}})
    async def predict(fit_id: str, request: Request):
        # normally answered by ServiceMiddleware's fast path with predict_answer; declared for the docs
        return await predict_answer(fit_id, await request.body())

    @app.post("/fits/{fit_id}/optimum", summary="fit.optimum(**body), e.g. {\"C\": 1e21}")
    async def optimum(fit_id: str, request: Request):
        body = await _json_body(request)
        fit = await cache.get(fit_id)
        try:
            return jsonable(await run_in_threadpool(lambda: fit.optimum(**body)))
        except NotImplementedError as err:
            raise ApiError(400, str(err), "law") from None
        except INPUT_ERRORS as err:
            raise from_library(err, next(iter(body), "body"), guess=False) from None

    @app.post("/fits/{fit_id}/reach", summary="fit.reach(loss, **given): what reaches a loss")
    async def reach(fit_id: str, request: Request):
        body = dict(await _json_body(request))
        fit = await cache.get(fit_id)
        target = rq.number(body, "loss", positive=True)
        if target is None:
            raise ApiError(422, "loss is required: the loss to reach", "loss", "invalid")
        body.pop("loss")
        for k, v in body.items():
            rq.number(body, k, field=k)
        try:
            return jsonable(await run_in_threadpool(lambda: fit.reach(target, **body)))
        except NotImplementedError as err:
            raise ApiError(400, str(err), "law") from None
        except INPUT_ERRORS as err:
            raise from_library(err, "loss") from None

    @app.post("/fits/{fit_id}/backtest", summary="sl.backtest with the fit's data and settings, in a worker")
    async def backtest(fit_id: str, request: Request):
        body = await _json_body(request)
        unknown = [k for k in body if k != "holdout"]
        if unknown:
            raise ApiError(422, f"unknown field(s) {', '.join(map(repr, unknown))}; fields: holdout",
                           unknown[0], "unknown_field")
        holdout = body.get("holdout")
        if isinstance(holdout, list) and holdout and all(isinstance(x, bool) for x in holdout):
            pass  # a mask: one boolean per stored row
        elif isinstance(holdout, list) and len(holdout) == 2 and isinstance(holdout[0], str) \
                and rq.is_number(holdout[1]):
            holdout = tuple(holdout)
        elif holdout is not None and holdout != "loo":
            raise rq.invalid("holdout", "[input, fraction], \"loo\", or one boolean per row of the fit's data",
                             holdout)
        return {"id": fit_id, **await run_on_stored_fit(fit_id, {"kind": "backtest", "holdout": holdout})}

    @app.post("/fits/{fit_id}/optimal_schedule",
              summary="Schedule laws: fit.optimal_schedule(n_steps, peak, family=..., ...), in a worker")
    async def optimal_schedule(fit_id: str, request: Request):
        body = await _json_body(request)
        for key in ("n_steps", "peak"):
            if key not in body:
                raise ApiError(422, f"{key} is required (e.g. {{\"n_steps\": 24000, \"peak\": 3e-4, "
                               "\"family\": \"wsd\"}})", key, "invalid")
        rq.integer(body, "n_steps", minimum=1)
        rq.number(body, "peak", positive=True)
        if body["n_steps"] > settings.max_points:
            raise ApiError(413, f"n_steps = {body['n_steps']}; this server predicts at most {settings.max_points} "
                           "points per request (SCALELAW_MAX_POINTS)", "n_steps", "too_large")
        return JSON(await run_on_stored_fit(fit_id, {"kind": "optimal_schedule", "kwargs": body}))

    @app.post("/forecast", summary="sl.forecast: the final loss of a run in progress, in a worker")
    async def forecast(request: Request):
        job = rq.parse_forecast(await _json_body(request), settings)
        prior = job.pop("prior")
        if prior is not None:
            text = await run_in_threadpool(store.get_text, prior)
            if text is None:
                raise ApiError(404, f"prior: no fit with id {prior!r}", "prior")
            job["prior_saved"] = json.loads(text)
        return JSON(await run_job(job))

    app.add_middleware(ServiceMiddleware, settings=settings, metrics=metrics, fast_predict=predict_answer)
    return app


def _warm_imports() -> None:
    import scipy.optimize  # noqa: F401
    import scipy.stats  # noqa: F401

    import scalelaw.calibration  # noqa: F401


def _load_saved(saved: dict):
    from scalelaw.result import FitResult

    try:
        return FitResult.from_dict(saved)
    except KeyError as err:
        raise ApiError(400, f"not a saved scalelaw fit: missing key {err.args[0]!r}", "body") from None
    except (ValueError, TypeError) as err:
        msg = str(err)
        raise ApiError(400, msg, "law" if msg.startswith("unknown law") else "body") from None


def _fit_answer(meta: dict, summary: dict, notes=None) -> dict:
    out = {k: v for k, v in meta.items() if k != "created_now"}
    out.update(summary)
    if notes:
        out["notes"] = notes
    return out


async def _multipart(request: Request) -> tuple[dict, list]:
    try:
        form = await request.form(max_files=1000, max_fields=100)
    except BodyTooLarge:
        raise  # a body sent without Content-Length ran past the limit: the middleware answers 413
    except Exception as err:  # noqa: BLE001 - a malformed upload is the client's error, whatever the parser raised
        raise ApiError(400, f"malformed multipart upload: {err}", "body") from None
    files, params = [], None
    for key, value in form.multi_items():
        if key == "params":
            if not isinstance(value, str):
                raise ApiError(422, "params must be a form field holding JSON, not a file", "params", "invalid")
            params = rq.object_body(rq.parse_json(value.encode(), "params"), "params")
        elif key in ("file", "files"):
            if isinstance(value, str):
                raise ApiError(422, f"{key} must be an uploaded file", key, "invalid")
            files.append((value.filename or "upload", await value.read()))
        else:
            raise ApiError(422, f"unknown form field {key!r}; fields: file (repeat), params (JSON)", key,
                           "unknown_field")
    if not files:
        raise ApiError(422, "no file uploaded: send the log(s) as form field 'file'", "file", "invalid")
    if params is None:
        raise ApiError(422, "params is required: a JSON object with law, inputs, target, ...", "params", "invalid")
    return params, files


def _version() -> str:
    from scalelaw import __version__

    return __version__


__all__ = ["create_app", "Settings"]
