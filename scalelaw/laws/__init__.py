"""The law registry: one module per law, one line per law here.

>>> from scalelaw.laws import laws, get_law
>>> get_law("chinchilla").formula
'L = E + A / N^alpha + B / D^beta'
"""

from __future__ import annotations

import importlib

from .base import Input, Law, Param

# name -> module; a new law is one module in this package and one line here.
_REGISTRY = {
    "power_law": "power_law",
    "power": "power",
    "chinchilla": "chinchilla",
    "kaplan_nd": "kaplan_nd",
    "kaplan_ns": "kaplan_ns",
    "critical_batch": "critical_batch",
    "encdec": "encdec",
    "lr_annealing": "lr_annealing",
    "dcpt": "dcpt",
    "dcpt_cross": "dcpt_cross",
    "multi_power": "multi_power",
}


def laws() -> list[str]:
    """Names of the available laws."""
    return list(_REGISTRY)


def get_law(name) -> Law:
    """The :class:`Law` declaration registered under ``name`` (a Law passes through)."""
    if isinstance(name, Law):
        return name
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown law {name!r}; known laws: {', '.join(_REGISTRY)}")
    return importlib.import_module(f"{__name__}.{_REGISTRY[name]}").LAW


__all__ = ["laws", "get_law", "Law", "Param", "Input"]


class _CallableModule(type(importlib)):
    """``scalelaw.laws`` is both this package and the function ``sl.laws()`` of the public contract.

    Importing the subpackage binds ``scalelaw.laws`` to the module, so the module itself must be
    callable for ``sl.laws()`` to keep working after any ``import scalelaw.laws...``.
    """

    def __call__(self) -> list[str]:
        return laws()


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
