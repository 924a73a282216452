"""Fixtures shared by the test modules: backend (vae/) fixtures and app fixtures, registered as plugins."""

pytest_plugins = ["app_fixtures", "backend_fixtures"]
