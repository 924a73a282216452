"""Start the app with `streamlit run` on a loopback port and drive it with Playwright
in Debian's Chromium (Playwright's own browser download is not used)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
# The explorer's live panel (ui/latent_panel.js), as the browser tests and benchmarks find it.
PANEL_SLIDER = ".z-slider input[type='range']"  # one per z dimension, in z order
PANEL_IMAGE = ".z-figure img"
PANEL_CHART = ".z-chart .main-svg"  # drawn once plotly.js has loaded
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(script: Path = ROOT / "app.py", env: dict | None = None,
                     timeout: float = 90, script_args: list[str] | None = None,
                     cwd: Path = ROOT, file_watcher: str | None = "none") -> Iterator[str]:
    """Run ``streamlit run script [-- script_args]`` on 127.0.0.1 and yield its base URL.

    Streamlit reads ``.streamlit/config.toml`` from ``cwd``: the repo's settings by default.
    ``file_watcher=None`` keeps the config's watcher (what ``make run`` gets)."""
    port = free_port()
    watcher = ["--server.fileWatcherType", file_watcher] if file_watcher else []
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", *watcher,
           "--browser.gatherUsageStats", "false"] + (["--", *script_args] if script_args else [])
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("streamlit did not become healthy in time")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def browser() -> Iterator[object]:
    """A headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_selector(IDLE, timeout=timeout)


@contextmanager
def app_in_chromium(user_dir: Path) -> Iterator[tuple[str, object]]:
    """`streamlit run app.py` with user checkpoints in ``user_dir``, and a Chromium to visit it: (url, browser)."""
    if chromium_path() is None:
        import pytest

        pytest.fail("Debian's chromium is not installed (make test installs it)")
    with streamlit_server(env={"VAE_USER_CHECKPOINT_DIR": str(user_dir)}) as url, browser() as b:
        yield url, b
