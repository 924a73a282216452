"""Baseline for the cold-start benchmark: a one-line Streamlit page."""

import streamlit as st

st.write("hello")
