"""Fitting laws to data: objective, parameter spec, multi-start search and the ``fit`` entry point."""

from .fit import fit

__all__ = ["fit"]
