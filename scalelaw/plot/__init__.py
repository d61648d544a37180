"""Plotly figures of fits. Functions take a result (and an optional figure) and return a figure;
they never call Streamlit (the app shows what they return)."""

from .core import plot_fit, plot_residuals

__all__ = ["plot_fit", "plot_residuals"]
