"""Cold start: from `streamlit run app.py` to the first decoded image visible in the browser,
against a one-line Streamlit page started the same way, alternated in the same run.

    .venv/bin/python bench/cold_start.py [--rounds 5]

The browser is started once beforehand (not counted); each round starts a fresh server process,
so Python imports, model loading and the first script run are all inside the figure. Both servers
start in the repo folder with its .streamlit/config.toml, file watcher included, as `make run` does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import ROOT, machine

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import PANEL_IMAGE, browser, streamlit_server  # noqa: E402

APPS = {"explorer (app.py)": (ROOT / "app.py", PANEL_IMAGE),
        "one-line page": (ROOT / "bench" / "apps" / "hello.py", "text=hello")}


def cold_start(b, script, selector: str) -> float:
    t0 = time.perf_counter()
    with streamlit_server(script, file_watcher=None) as url:  # as `make run` starts it: the repo's config
        page = b.new_page()
        page.goto(url)
        page.locator(selector).first.wait_for(state="visible", timeout=120_000)
        elapsed = time.perf_counter() - t0
        page.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in APPS}
    with browser() as b:
        for _ in range(args.rounds):
            for name, (script, selector) in APPS.items():
                times[name].append(cold_start(b, script, selector))
    print(f"machine: {machine()}; headless Chromium; {args.rounds} rounds")
    for name, v in times.items():
        print(f"{name:<20} median {statistics.median(v):5.2f} s   min {min(v):5.2f}   max {max(v):5.2f}")
    app, hello = statistics.median(times["explorer (app.py)"]), statistics.median(times["one-line page"])
    print(f"RESULT: cold start {app:.2f} s vs one-line page {hello:.2f} s: {app / hello:.2f}x")


if __name__ == "__main__":
    main()
