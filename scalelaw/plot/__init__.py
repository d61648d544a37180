"""Plotly figures of fits. Functions take a result (and an optional figure) and return a figure;
they never call Streamlit (the app shows what they return)."""

from .backtest import plot_backtest, plot_compare
from .core import plot_fit, plot_residuals
from .encdec import plot_encdec
from .forecast import plot_forecast
from .isoflop import plot_isoflop, plot_profiles
from .mixture import plot_mixture
from .points import plot_candidates
from .schedules import plot_schedules

__all__ = ["plot_fit", "plot_residuals", "plot_candidates", "plot_isoflop", "plot_profiles", "plot_encdec", "plot_mixture",
           "plot_schedules", "plot_backtest", "plot_compare", "plot_forecast"]
