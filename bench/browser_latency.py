"""Slider latency in a real browser: the explorer against a trivial one-slider app, same run.

    .venv/bin/python bench/browser_latency.py [--moves 60] [--view both]

Both apps run under `streamlit run` on loopback; headless Chromium (Playwright, Debian's
chromium) focuses a slider and presses an arrow key. A MutationObserver on the page, ignoring
the slider widgets themselves, records when the page last changed; a move's latency is the
time from the key press to the last change the rerun made, detected once the page has been
quiet for --quiet ms with the script idle (the quiet wait is not part of the figure). Moves
alternate between the two apps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import ROOT, latency_lines, machine

sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import IDLE, PANEL_CHART, PANEL_SLIDER, browser, streamlit_server, wait_idle  # noqa: E402

# Streamlit's slider widgets and the explorer's own latent sliders (ui/latent_panel): their own
# thumb and value label change on the key press itself and are not part of the rerun.
SLIDER_WIDGETS = "[data-testid='stSlider'], .z-slider"
SLIDER_INPUTS = f"[data-testid='stSlider'] input[type='range'], {PANEL_SLIDER}"

OBSERVE = f"""() => {{
  const SLIDER_WIDGETS = "{SLIDER_WIDGETS}";
  window.__last = 0;
  new MutationObserver((records) => {{
    for (const r of records) {{
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (!el || !el.closest(SLIDER_WIDGETS)) {{ window.__last = performance.now(); return; }}
    }}
  }}).observe(document.body, {{subtree: true, childList: true, attributes: true, characterData: true}});
}}"""

SETTLED = """([quiet, idle]) => window.__last > window.__t0
  && performance.now() - window.__last > quiet && document.querySelector(idle) !== null"""


# The baseline, twice: as Streamlit ships (started outside the repo, so no .streamlit/config.toml),
# and with this repo's settings (runner.postScriptGC = false speeds up every app's reruns).
STOCK = "trivial app, Streamlit defaults"
TUNED = "trivial app, this repo's config"


class Session:
    """One browser page on one app, ready to move its first slider."""

    def __init__(self, b, url: str, ready_selector: str) -> None:
        self.page = b.new_page(viewport={"width": 1400, "height": 1600})
        self.page.goto(url)
        wait_idle(self.page)
        self.page.wait_for_selector(ready_selector)
        self.page.evaluate(OBSERVE)
        self.slider = self.page.locator(SLIDER_INPUTS).first
        self.step = 0

    def move(self, quiet_ms: int) -> float:
        """Press an arrow key on the slider; return ms until the rerun's last page change."""
        self.page.bring_to_front()
        self.slider.focus()
        key = "ArrowRight" if (self.step // 5) % 2 == 0 else "ArrowLeft"  # wander, stay in range
        self.step += 1
        self.page.evaluate("() => { window.__t0 = performance.now(); }")
        self.page.keyboard.press(key)
        self.page.wait_for_function(SETTLED, arg=[quiet_ms, IDLE], timeout=30_000, polling=20)
        return self.page.evaluate("() => window.__last - window.__t0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--quiet", type=int, default=400, help="ms without changes that ends a move")
    parser.add_argument("--view", default="both", choices=["sigmoid", "raw", "both"])
    parser.add_argument("--app", default=str(ROOT / "app.py"), help="the app to measure (for experiments)")
    parser.add_argument("--app-args", default="", help="script arguments for --app")
    parser.add_argument("--ready", default=PANEL_CHART, help="selector that means --app is up")
    args = parser.parse_args()
    trivial = ROOT / "bench" / "apps" / "trivial_slider.py"
    with tempfile.TemporaryDirectory() as neutral, \
            streamlit_server(Path(args.app), script_args=args.app_args.split()) as app_url, \
            streamlit_server(trivial, cwd=Path(neutral)) as stock_url, \
            streamlit_server(trivial) as tuned_url, browser() as b:
        sessions = {"explorer": Session(b, f"{app_url}/?view={args.view}", args.ready),
                    STOCK: Session(b, stock_url, "[data-testid='stSlider']"),
                    TUNED: Session(b, tuned_url, "[data-testid='stSlider']")}
        for s in sessions.values():  # warm-up
            for _ in range(3):
                s.move(args.quiet)
        times: dict[str, list[float]] = {name: [] for name in sessions}
        for _ in range(args.moves):
            for name, s in sessions.items():
                times[name].append(s.move(args.quiet))
    print(f"machine: {machine()}; headless Chromium; view={args.view}; {args.moves} moves each")
    print(latency_lines(times))
    explorer, stock, tuned = (statistics.median(v) for v in times.values())
    print(f"RESULT: explorer {explorer:.0f} ms median per slider move = {explorer / stock:.2f}x the trivial app "
          f"with Streamlit's defaults ({stock:.0f} ms), {explorer / tuned:.2f}x the trivial app with this "
          f"repo's server settings ({tuned:.0f} ms)")


if __name__ == "__main__":
    main()
