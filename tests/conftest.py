"""Fixtures shared by the test modules."""

# Backend (vae/) fixtures live in backend_fixtures.py, app fixtures in app_fixtures.py; importing them
# here registers them.
from app_fixtures import fresh_runner, isolated_user_dir  # noqa: F401
from backend_fixtures import mnist_sample, no_network, small_splits, tiny_cfg  # noqa: F401
