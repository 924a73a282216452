"""Fixtures shared by the test modules."""

# Backend (vae/) fixtures live in backend_fixtures.py; importing them here registers them.
from backend_fixtures import mnist_sample, small_splits, tiny_cfg  # noqa: F401
