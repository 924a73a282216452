"""Slider latency on the server: a slider move in the explorer (fragment rerun) vs a full-script rerun.

    .venv/bin/python bench/slider_latency.py [--changes 120] [--view both]

All three are driven through Streamlit's own script runner (streamlit.testing.v1.AppTest).
AppTest always reruns whole scripts, so the fragment path is a script that calls exactly the
explorer's fragment function, which is what the server executes when a slider inside it moves.
A move is simulated the way the server sees it: the panel's on_z_change callback stores the
browser's z in session state (ui.state.take_z_from_sliders), then the fragment reruns.

* fragment   - app_pages.explorer.latent_view (decode, images, histogram specs, the live panel);
* full rerun - app.py (navigation + the whole explorer page): the baseline;
* harness    - a one-slider script, to show what AppTest itself adds to every rerun (thread
  start, polling); a running server does not pay this, so "fragment - harness" estimates the
  server's own work.

Changes alternate between the three in blocks of 10 so drift on this noisy machine hits all alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import ROOT, latency_lines, machine, percentile
from streamlit.testing.v1 import AppTest

from ui.state import Z_KEY

FRAGMENT_SCRIPT = """
from app_pages.explorer import latent_view
latent_view("mnist", "mnist-sigmoid-z20", "mnist-raw-z20", VIEW, "clip")
"""

TRIVIAL_APP = """
import streamlit as st
st.slider("z1", -3.0, 3.0, 0.0, 0.05, key="z")
"""


def timed_changes(at: AppTest, n: int, start: int) -> list[float]:
    """Change z1 ``n`` times (distinct values), timing each rerun in ms."""
    out = []
    for i in range(start, start + n):
        value = round(-2.5 + (i * 0.35) % 5.0, 2)
        if at.slider:  # the harness: a real st.slider
            at.slider(key=Z_KEY).set_value(value)
        else:  # the explorer: what the panel's callback does with the browser's values
            at.session_state[Z_KEY] = [value] + [0.0] * 19
        t0 = time.perf_counter()
        at.run()
        out.append(1000 * (time.perf_counter() - t0))
        assert not at.exception, at.exception
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=120)
    parser.add_argument("--view", default="both", choices=["sigmoid", "raw", "both"])
    args = parser.parse_args()
    apps = {"fragment (slider move)": AppTest.from_string(FRAGMENT_SCRIPT.replace("VIEW", repr(args.view)),
                                                          default_timeout=60),
            "full-script rerun": AppTest.from_file(str(ROOT / "app.py"), default_timeout=60),
            "harness (1-slider script)": AppTest.from_string(TRIVIAL_APP, default_timeout=60)}
    times: dict[str, list[float]] = {name: [] for name in apps}
    for at in apps.values():
        at.query_params["view"] = args.view
        at.run()  # the first run loads the models into the shared cache
        timed_changes(at, 5, 0)
    for block in range(0, args.changes, 10):
        for name, at in apps.items():
            times[name] += timed_changes(at, 10, block)
    print(f"machine: {machine()}; view={args.view}; {args.changes} changes each")
    print(latency_lines(times))
    frag, full, harness = (statistics.median(v) for v in times.values())
    print(f"RESULT: slider move median {frag:.1f} ms (p95 {percentile(times['fragment (slider move)'], 95):.1f}; "
          f"~{frag - harness:.1f} ms of it the app's own work), full rerun {full:.1f} ms: {full / frag:.1f}x faster")


if __name__ == "__main__":
    main()
