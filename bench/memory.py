"""Memory: peak RSS of the app server with every shipped checkpoint loaded and one session open.

    .venv/bin/python bench/memory.py

Starts `streamlit run app.py` and opens the explorer (the landing page, which loads and
validates every checkpoint, shipped and user) in headless Chromium, moves a slider 10 times
and reads the server's VmHWM (peak resident set) from /proc: the goal's figure. Then the same
session visits the other pages that serve without torch, then the ones that score, train or
import with it, and the peak is read after each group. Whether torch is loaded in the server is
read from its memory map. For the breakdown it also measures, in fresh processes, the RSS of
Python + `import streamlit`, + `import torch`, and the bytes of all checkpoint weights.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common import ROOT, machine

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import PANEL_CHART, PANEL_SLIDER, browser, streamlit_server, wait_idle  # noqa: E402

TORCH_FREE_PAGES = ("heads", "latent_map")
# the pages that import torch in the server (the explorer quotes PyTorch from a child process)
TORCH_PAGES = ("reconstructions", "answers", "train", "import_checkpoint")
GOAL_MB = 600


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def torch_loaded(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def server_pid(port: int) -> int:
    out = subprocess.run(["pgrep", "-f", "--", f"server.port {port}"], capture_output=True, text=True).stdout.split()
    return int(out[0])


def rss_after(code: str) -> float:
    probe = f"{code}\nfrom pathlib import Path\nprint([l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')][0].split()[1])"
    return int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT).stdout) / 1024


def move_slider(page, presses: int = 10) -> None:
    page.wait_for_selector(PANEL_CHART)
    page.locator(PANEL_SLIDER).first.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
        wait_idle(page)


def visit(page, url: str, slugs: tuple[str, ...]) -> None:
    for slug in slugs:
        page.goto(f"{url}/{slug}")
        wait_idle(page)
        page.wait_for_timeout(500)
        wait_idle(page)
    page.goto(url)
    wait_idle(page)
    move_slider(page)


def main() -> None:
    with streamlit_server(ROOT / "app.py") as url, browser() as b:
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        page = b.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(url)
        wait_idle(page)
        move_slider(page)
        explorer_peak, explorer_torch = status_mb(pid, "VmHWM"), torch_loaded(pid)
        visit(page, url, TORCH_FREE_PAGES)
        free_peak, free_torch = status_mb(pid, "VmHWM"), torch_loaded(pid)
        visit(page, url, TORCH_PAGES)
        all_peak, all_torch = status_mb(pid, "VmHWM"), torch_loaded(pid)
    weights = sum(p.stat().st_size for p in (ROOT / "checkpoints").glob("*.safetensors")) / 2**20
    base = rss_after("import streamlit")
    with_torch = rss_after("import streamlit, torch")
    serving = rss_after("import streamlit, plotly.graph_objects, services.catalog, services.decoding, ui.figures")
    print(f"machine: {machine()}")
    print(f"explorer session (every checkpoint loaded, 10 slider moves): peak RSS {explorer_peak:.0f} MB, "
          f"torch {'loaded' if explorer_torch else 'not loaded'}")
    print(f"+ {', '.join(TORCH_FREE_PAGES)} pages: peak RSS {free_peak:.0f} MB, "
          f"torch {'loaded' if free_torch else 'not loaded'}")
    print(f"+ {', '.join(TORCH_PAGES)} pages (all seven visited): peak RSS {all_peak:.0f} MB, "
          f"torch {'loaded' if all_torch else 'not loaded'}")
    print(f"breakdown (fresh processes): python + streamlit {base:.0f} MB; + the explorer's imports "
          f"{serving:.0f} MB; python + streamlit + torch {with_torch:.0f} MB (torch adds {with_torch - base:.0f} MB); "
          f"checkpoint weights on disk {weights:.1f} MB")
    print(f"RESULT: peak RSS {explorer_peak:.0f} MB against a goal of {GOAL_MB} MB "
          f"({'met' if explorer_peak <= GOAL_MB else 'missed'}); {all_peak:.0f} MB once the torch pages are used")


if __name__ == "__main__":
    main()
