"""scalelaw: fit and extrapolate language-model scaling laws.

Importing the package is light (numpy at most): the fitting stack (scipy, lmfit), plots
(plotly), the app (streamlit) and the trainer (torch) load on first use, so the trainer runs
uninstalled on a machine that has none of them.

>>> import scalelaw as sl
>>> "chinchilla" in sl.laws()
True
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it; resolved on first attribute access (PEP 562)
_EXPORTS = {
    "laws": "scalelaw.laws",
    "get_law": "scalelaw.laws",
    "fit": "scalelaw.api",
    "FitResult": "scalelaw.result",
    "GroupedFit": "scalelaw.result",
    "load_fit": "scalelaw.result",
    "ExtrapolationWarning": "scalelaw.result",
    "backtest": "scalelaw.backtesting",
    "compare": "scalelaw.backtesting",
    "final_points": "scalelaw.points",
    "frontier": "scalelaw.points",
    "count_params": "scalelaw.model_size",
    "mixture_optimum": "scalelaw.laws.dcpt",
    "domain_features": "scalelaw.laws.dcpt_cross",
    "read_logs": "scalelaw.io",
    "ReadLogsWarning": "scalelaw.io.report",
    "schedules": "scalelaw.schedules",
    "Client": "scalelaw.client",
    "isoflop": "scalelaw.isoflops",
    "load_isoflop": "scalelaw.isoflops",
    "envelope": "scalelaw.envelopes",
    "compare_approaches": "scalelaw.approaches",
    "forecast": "scalelaw.forecasting",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'scalelaw' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
