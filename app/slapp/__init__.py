"""The Streamlit app's pieces: one module per step of the page (data, law, fit, results, panels,
backtests, export). They hold widgets and library calls only; the science is in ``scalelaw``."""
