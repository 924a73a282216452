"""Streamlit-side helpers: cached loaders, shared session state, plotly figures.

The backend (``vae/``) never imports Streamlit; pages import from here and from ``vae``.
"""
