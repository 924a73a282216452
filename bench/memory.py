"""Memory: peak RSS of the app server with every shipped checkpoint loaded and one session open.

    .venv/bin/python bench/memory.py [--torch-free]

Starts `streamlit run app.py`, opens the explorer in headless Chromium, moves a slider, visits
every page (which loads every checkpoint and the samples), then reads the server's VmHWM (peak
resident set) from /proc. For the breakdown it also measures, in fresh processes, the RSS of
Python + `import streamlit`, + `import torch`, and the bytes of all checkpoint weights.
With --torch-free it first measures bench/apps/torch_free_first_image.py, an experiment that
bounds what a torch-free explorer could need.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common import ROOT, machine

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import browser, streamlit_server, wait_idle  # noqa: E402

PAGES = ("", "reconstructions", "heads", "latent_map", "train", "import_checkpoint")
GOAL_MB = 600


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def server_pid(port: int) -> int:
    out = subprocess.run(["pgrep", "-f", "--", f"server.port {port}"], capture_output=True, text=True).stdout.split()
    return int(out[0])


def rss_after(code: str) -> float:
    probe = f"{code}\nfrom pathlib import Path\nprint([l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')][0].split()[1])"
    return int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT).stdout) / 1024


def torch_free_peak_mb() -> float:
    """Peak RSS of bench/apps/torch_free_first_image.py (an experiment, not the product) once shown."""
    with streamlit_server(ROOT / "bench" / "apps" / "torch_free_first_image.py") as url, browser() as b:
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        page = b.new_page()
        page.goto(url)
        wait_idle(page)
        page.wait_for_selector("[data-testid='stImage'] img")
        return status_mb(pid, "VmHWM")


def main() -> None:
    if "--torch-free" in sys.argv[1:]:
        print(f"experiment: torch-free first image server, peak RSS {torch_free_peak_mb():.0f} MB")
    with streamlit_server(ROOT / "app.py") as url, browser() as b:
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        page = b.new_page(viewport={"width": 1400, "height": 1600})
        for slug in PAGES:
            page.goto(f"{url}/{slug}")
            wait_idle(page)
            page.wait_for_timeout(500)
            wait_idle(page)
        page.goto(url)
        wait_idle(page)
        page.wait_for_selector(".z-chart .main-svg")
        page.locator(".z-slider input[type='range']").first.focus()
        for _ in range(10):
            page.keyboard.press("ArrowRight")
            wait_idle(page)
        peak, now = status_mb(pid, "VmHWM"), status_mb(pid, "VmRSS")
    weights = sum(p.stat().st_size for p in (ROOT / "checkpoints").glob("*.safetensors")) / 2**20
    base = rss_after("import streamlit")
    with_torch = rss_after("import streamlit, torch")
    app_imports = rss_after("import streamlit, torch, plotly.graph_objects, pandas, vae.catalog, vae.explore, ui.figures")
    print(f"machine: {machine()}")
    print(f"server peak RSS {peak:.0f} MB (now {now:.0f} MB), all pages visited, one session")
    print(f"breakdown (fresh processes): python + streamlit {base:.0f} MB; + torch {with_torch:.0f} MB "
          f"(torch alone adds {with_torch - base:.0f} MB); + plotly/pandas/vae {app_imports:.0f} MB; "
          f"checkpoint weights on disk {weights:.1f} MB")
    print(f"RESULT: peak RSS {peak:.0f} MB against a goal of {GOAL_MB} MB "
          f"({'met' if peak <= GOAL_MB else 'missed'}); torch's import is {100 * (with_torch - base) / peak:.0f}% of it")


if __name__ == "__main__":
    main()
