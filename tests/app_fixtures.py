"""Shared helpers for the AppTest suites: run a page headlessly, with user checkpoints in tmp.

``isolated_user_dir`` and ``fresh_runner`` are registered in conftest.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import vae.paths

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "app_pages").glob("*.py"))


@pytest.fixture
def isolated_user_dir(tmp_path, monkeypatch) -> Path:
    """User checkpoints go to a temporary folder; the shared catalog cache starts fresh."""
    from ui import loaders

    monkeypatch.setattr(vae.paths, "USER_CHECKPOINT_DIR", tmp_path / "user")
    loaders.refresh_catalog()
    yield tmp_path / "user"
    loaders.refresh_catalog()


@pytest.fixture
def fresh_runner():
    """The server's training runner, new for this test and never left with a job running."""
    from ui import loaders

    loaders.runner.clear()
    runner = loaders.runner()
    yield runner
    runner.cancel()
    runner.wait(60)
    assert not runner.status().active, "a training job outlived its test"
    loaders.runner.clear()


def run_app(page: str | None = None, **query) -> AppTest:
    """Run app.py (then switch to ``page``) and check that no exception was shown."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(query)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def explorer_panel(at: AppTest) -> dict:
    """The explorer's live panel (ui.latent_panel) as sent to the browser: z, columns, charts."""
    (element,) = at.get("bidi_component")
    return json.loads(element.proto.json)
