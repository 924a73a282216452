"""Load test: many browser sessions move sliders at once; each must see the image of ITS OWN z.

    .venv/bin/python bench/load_test.py                          # 20 sessions x 50 moves
    .venv/bin/python bench/load_test.py --sessions 3 --moves 5    # a quick run

Starts the app with ``streamlit run`` on 127.0.0.1 (tests/browser_helpers.streamlit_server) and
opens one headless Chromium with one context per session (cookies and websocket of their own,
like separate users). Every request that is not to the loopback server is aborted. Each session
opens ``/?z=...&view=sigmoid`` with its own random z, then presses ArrowRight/ArrowLeft on one
latent slider, one key at a time, waiting each time until the image has changed and the app is
idle (that interval is the move's latency). At the end it reads z back from the page's URL,
fetches the image the page shows and compares its pixels with
``as_image(decode_point(checkpoint, z).pixels)`` computed here. Bounded: at most 64 sessions and 500
moves each, one overall deadline (--timeout) after which everything is stopped and reported.

Prints p50/p95/max latency per move, counts of wrong images, app exceptions and failed moves,
and one final ``RESULT`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser_helpers import (  # noqa: E402
    CHROMIUM_ARGS,
    IDLE,
    PANEL_CHART,
    PANEL_IMAGE,
    PANEL_SLIDER,
    chromium_path,
    streamlit_server,
)
from common import percentile  # noqa: E402

from services.decoding import decode_point  # noqa: E402
from services.display import as_image  # noqa: E402
from ui.state import Z_LIMIT, Z_STEP, format_z, parse_z  # noqa: E402
from vae.checkpoints import load_checkpoint  # noqa: E402

CHECKPOINT = "mnist-sigmoid-z20"  # what the explorer shows for view=sigmoid with the shipped files
LATENT = 20
EXCEPTION = "[data-testid='stException']"
MAX_SESSIONS, MAX_MOVES = 64, 500


@dataclass
class Session:
    """What one browser session saw."""

    index: int
    latencies: list[float] = field(default_factory=list)
    failed_moves: int = 0
    exceptions: int = 0
    page_errors: list[str] = field(default_factory=list)
    image_ok: bool | None = None  # None: never checked (the session failed before the end)
    error: str | None = None


async def loopback_only(route) -> None:
    host = urllib.parse.urlsplit(route.request.url).hostname
    await (route.continue_() if host in ("127.0.0.1", "localhost") else route.abort())


async def run_session(browser, url: str, s: Session, moves: int, ckpt, move_timeout_ms: float) -> None:
    rng = np.random.default_rng(1000 + s.index)
    z = np.round(rng.uniform(-2, 2, LATENT) / Z_STEP) * Z_STEP
    dim = s.index % LATENT  # sessions move different sliders
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        await context.route("**/*", loopback_only)
        page = await context.new_page()
        page.on("pageerror", lambda err: s.page_errors.append(str(err)))
        await page.goto(f"{url}/?z={format_z(z)}&view=sigmoid", timeout=move_timeout_ms * 4)
        await page.wait_for_selector(PANEL_IMAGE, timeout=move_timeout_ms * 4)
        # Ready means the histograms are drawn too: plotly.js (4.8 MB) is parsed after the first image,
        # and with 20 pages starting at once on 2 cores that can hold a page's main thread for > 30 s.
        await page.wait_for_selector(PANEL_CHART, timeout=move_timeout_ms * 4)
        await page.wait_for_selector(IDLE, timeout=move_timeout_ms * 4)
        slider = page.locator(PANEL_SLIDER).nth(dim)
        image = page.locator(PANEL_IMAGE).first
        for _ in range(moves):
            up = z[dim] + Z_STEP <= Z_LIMIT + 1e-9 and (rng.random() < 0.5 or z[dim] - Z_STEP < -Z_LIMIT - 1e-9)
            before = await image.get_attribute("src")
            await slider.focus()
            t0 = time.perf_counter()
            await page.keyboard.press("ArrowRight" if up else "ArrowLeft")
            try:
                await page.wait_for_function(
                    "([sel, old]) => { const i = document.querySelector(sel); return i && i.getAttribute('src') !== old; }",
                    arg=[PANEL_IMAGE, before], timeout=move_timeout_ms)
                await page.wait_for_selector(IDLE, timeout=move_timeout_ms)
            except Exception:  # a move that never showed: counted, and the session goes on
                s.failed_moves += 1
            else:
                s.latencies.append(time.perf_counter() - t0)
            z[dim] = round((z[dim] + (Z_STEP if up else -Z_STEP)) / Z_STEP) * Z_STEP

        await page.wait_for_selector(IDLE, timeout=move_timeout_ms)
        s.exceptions = await page.locator(EXCEPTION).count()
        # The image must be the decoding of the z this page says it shows ...
        shown_z = parse_z(urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)["z"][0])
        assert shown_z is not None, f"the page's link holds no valid z: {page.url}"
        src = await image.get_attribute("src")  # a PNG data URI
        png = base64.b64decode(src.split(",", 1)[1])
        from PIL import Image

        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
        # the page may send the digit at 28x28 (scaled by CSS) or enlarged; compare at its own scale
        expected = as_image(decode_point(ckpt, shown_z).pixels, "clip", scale=max(1, pixels.shape[0] // 28))
        # ... and that z must be the one this session's own key presses lead to.
        s.image_ok = bool(np.allclose(shown_z, z) and pixels.shape == expected.shape and np.array_equal(pixels, expected))
        if not s.image_ok:
            s.error = f"wrong image: URL z[{dim}]={shown_z[dim]:g}, pressed to {z[dim]:g}"
    except Exception as err:
        s.error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        try:  # what the page showed at that moment, for the report
            state = await page.evaluate("""(sel) => ({sliders: document.querySelectorAll(sel).length,
                script: document.querySelector("[data-testid='stApp']")?.dataset.testScriptState,
                text: document.body.innerText.slice(0, 120).replace(/\\s+/g, " ")})""", PANEL_SLIDER)
            s.error += f" [page: {state}]"
        except Exception:
            pass
    finally:
        await context.close()


async def run_all(url: str, sessions: list[Session], moves: int, ckpt, timeout: float, move_timeout: float) -> bool:
    """Run every session at once; False if the overall deadline cut them short."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            tasks = [asyncio.create_task(run_session(browser, url, s, moves, ckpt, move_timeout * 1000))
                     for s in sessions]
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            return not pending
        finally:
            await browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help=f"concurrent browser sessions (<= {MAX_SESSIONS})")
    parser.add_argument("--moves", type=int, default=50, help=f"slider moves per session (<= {MAX_MOVES})")
    parser.add_argument("--timeout", type=float, default=900, help="overall deadline in seconds")
    parser.add_argument("--move-timeout", type=float, default=60, help="seconds one move may take before it counts as failed")
    args = parser.parse_args(argv)
    if not (1 <= args.sessions <= MAX_SESSIONS and 1 <= args.moves <= MAX_MOVES):
        parser.error(f"--sessions must be 1..{MAX_SESSIONS} and --moves 1..{MAX_MOVES}")
    if chromium_path() is None:
        parser.error("Debian's chromium is needed (make browser)")

    import vae.paths

    ckpt = load_checkpoint(vae.paths.CHECKPOINT_DIR / f"{CHECKPOINT}.safetensors")
    sessions = [Session(i) for i in range(args.sessions)]
    with tempfile.TemporaryDirectory() as user_dir, \
            streamlit_server(env={"VAE_USER_CHECKPOINT_DIR": user_dir}) as url:
        print(f"app at {url}; {args.sessions} sessions x {args.moves} moves; {os.cpu_count()} CPU cores", flush=True)
        t0 = time.perf_counter()
        finished = asyncio.run(run_all(url, sessions, args.moves, ckpt, args.timeout, args.move_timeout))
        wall = time.perf_counter() - t0

    latencies = [x for s in sessions for x in s.latencies]
    for s in sessions:
        if s.error or s.failed_moves or s.exceptions or s.page_errors:
            print(f"  session {s.index}: {s.error or ''} failed moves {s.failed_moves}, exceptions {s.exceptions}, "
                  f"page errors {s.page_errors[:2]}")
    good = sum(1 for s in sessions if s.image_ok)
    wrong = sum(1 for s in sessions if s.image_ok is False)
    errors = sum(1 for s in sessions if s.error and s.image_ok is not False)
    exceptions = sum(s.exceptions for s in sessions)
    failed = sum(s.failed_moves for s in sessions)
    page_errors = sum(len(s.page_errors) for s in sessions)
    if latencies:
        print(f"latency per move over {len(latencies)} moves: p50 {1000 * statistics.median(latencies):.0f} ms, "
              f"p95 {1000 * percentile(latencies, 95):.0f} ms, max {1000 * max(latencies):.0f} ms; "
              f"throughput {len(latencies) / wall:.1f} moves/s")
    ok = finished and good == len(sessions) and not (exceptions or failed or page_errors)
    print(f"RESULT {'OK' if ok else 'FAIL'}: {args.sessions} sessions x {args.moves} moves, "
          f"correct final image {good}/{len(sessions)}, wrong {wrong}, session errors {errors}, "
          f"app exceptions {exceptions}, failed moves {failed}, page errors {page_errors}, "
          + (f"p50 {1000 * statistics.median(latencies):.0f} ms, p95 {1000 * percentile(latencies, 95):.0f} ms, "
             if latencies else "") + f"wall {wall:.0f} s" + ("" if finished else " (deadline hit)"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
