"""What the service says about a fit: plain data built from a :class:`~scalelaw.result.FitResult`.

The same function runs in the worker process (answer to POST /fits) and in the server (GET
/fits/{id}), so both answers are identical. The full saved JSON is at GET /fits/{id}/json.
"""

from __future__ import annotations

import math

import numpy as np


def jsonable(value):
    """numpy and pandas values to JSON types; non-finite floats become None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            if np.all(np.isfinite(value)):
                return value.tolist()
            return [jsonable(v) for v in value.tolist()]
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def intervals(fit, level: float = 0.95) -> dict | None:
    """Bootstrap percentile intervals per parameter, or None without draws."""
    if fit.draws is None:
        return None
    table = fit.ci(level)
    return {"level": level,
            "params": {name: {k: (None if not math.isfinite(v) else float(v)) for k, v in row.items()}
                       for name, row in table.to_dict(orient="index").items()}}


def fit_summary(fit) -> dict:
    """Parameters, intervals, warnings, objective and the fit's settings (no data, no draws)."""
    boot = None
    if fit.bootstrap_info is not None:
        boot = {k: v for k, v in fit.bootstrap_info.items() if k != "draws"}
    return jsonable({
        "law": fit.law.name,
        "params": dict(fit.params),
        "intervals": intervals(fit),
        "objective": fit.objective,
        "n_points": fit.n_points,
        "warnings": list(fit.warnings),
        "inputs": dict(fit.inputs),
        "target": fit.target,
        "loss": fit.loss,
        "delta": fit.delta,
        "fixed": dict(fit.spec.fixed),
        "free": list(fit.spec.free),
        "at_bound": list(fit.at_bound),
        "starts": dict(fit.starts),
        "derived": fit.derived(),
        "seed": fit.seed,
        "bootstrap": boot,
        "data_hash": fit.data_hash,
        "scalelaw_version": fit.version,
    })
