"""Baseline for the browser benchmarks: one slider and a line of text, nothing else."""

import streamlit as st

value = st.slider("z1", -3.0, 3.0, 0.0, 0.05)
st.write(f"value = {value:.2f}")
