"""The real app in a real browser: `streamlit run` + headless Chromium via Playwright.

Screenshots of every page go to $SCREENSHOT_DIR (default test-output/screenshots);
`make screenshots` points it at docs/screenshots for the README.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browser_helpers import (
    PANEL_CHART,
    PANEL_IMAGE,
    PANEL_SLIDER,
    ROOT,
    app_in_chromium,
    streamlit_server,
    wait_idle,
)

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-output" / "screenshots"))
PAGES = {"reconstructions": "Reconstructions", "heads": "Activation comparison",
         "latent_map": "Latent map", "train": "Train a variant", "import_checkpoint": "Import a checkpoint"}


@pytest.fixture(scope="module")
def app_page(tmp_path_factory):
    with app_in_chromium(tmp_path_factory.mktemp("user_checkpoints")) as (url, b):
        page = b.new_page(viewport={"width": 1400, "height": 2400})
        page.set_default_timeout(60_000)
        yield url, page


def first_image_src(page) -> str:
    return page.locator(PANEL_IMAGE).first.get_attribute("src")


def decoder_titles(page) -> list[str]:
    return page.locator(".z-title strong").all_inner_texts()


# The SVG paths of the first histogram's bars, as drawn.
DRAWN_BARS = "div => Array.from(div.querySelectorAll('.barlayer .trace')[0].querySelectorAll('path')).map(p => p.getAttribute('d')).join()"


def test_explorer_sliders_images_histograms_and_toggle(app_page):
    url, page = app_page
    page.goto(url)
    wait_idle(page)
    page.wait_for_selector(PANEL_CHART)  # plotly.js loaded from the app's own server
    assert page.locator(PANEL_SLIDER).count() == 20
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "explorer.png"), full_page=True)

    before = first_image_src(page)
    bars_before = page.locator(".z-chart").first.evaluate("div => JSON.stringify(div.data[0].y)")
    drawn_before = page.locator(".z-chart").first.evaluate(DRAWN_BARS)
    page.locator(PANEL_CHART).first.evaluate("svg => { svg.dataset.first = 'yes'; }")
    history_length = page.evaluate("() => history.length")
    page.locator(PANEL_SLIDER).first.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert page.locator(".z-slider output").first.inner_text() == "0.50 σ"
    assert page.locator(PANEL_SLIDER).first.get_attribute("aria-valuetext") == "0.50 σ"
    page.wait_for_function("([sel, src]) => document.querySelector(sel).getAttribute('src') !== src",
                           arg=[PANEL_IMAGE, before])
    page.wait_for_function("() => location.search.includes('z=0.5')")  # every move reached the server
    assert page.evaluate("() => history.length") == history_length, "the link follows without a history entry per move"
    wait_idle(page)
    assert first_image_src(page) != before
    assert page.locator(".z-chart").first.evaluate("div => JSON.stringify(div.data[0].y)") != bars_before, \
        "the histogram is updated in place"
    page.wait_for_function(f"([d]) => ({DRAWN_BARS})(document.querySelector('.z-chart')) !== d", arg=[drawn_before])
    assert page.locator(PANEL_CHART).first.get_attribute("data-first") == "yes", "the same chart, redrawn"
    assert page.locator(".z-slider output").first.inner_text() == "0.50 σ", "no snap back after the rerun"

    # Dragging sends many values while reruns are in flight: the last one must win.
    box = page.locator(PANEL_SLIDER).nth(1).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(box["x"] + box["width"] / 2 + step * box["width"] / 20, box["y"] + box["height"] / 2)
    page.mouse.up()
    assert page.locator(".z-slider output").nth(1).inner_text() == "3.00 σ"
    page.wait_for_function("() => new URLSearchParams(location.search).get('z').startsWith('0.5,3,')")
    wait_idle(page)
    assert page.locator(".z-slider output").nth(1).inner_text() == "3.00 σ"

    assert decoder_titles(page) == ["Sigmoid + Bernoulli (BCE)", "Raw (identity) + Gaussian (MSE)"]
    page.get_by_role("radio", name="Raw decoder", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('.z-title strong').length === 1")
    wait_idle(page)
    assert decoder_titles(page) == ["Raw (identity) + Gaussian (MSE)"]

    page.get_by_role("button", name="Reset to 0").click()
    page.wait_for_function("() => document.querySelector('.z-slider output').textContent === '0.00 σ'")
    assert page.locator(PANEL_SLIDER).first.input_value() == "0", \
        "z set on the server moves the sliders"


def column_images(page) -> list:
    """The first image of each decoder column of the explorer's panel, as grey values."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    srcs = page.locator(".z-column").evaluate_all(
        "cols => cols.map(c => c.querySelector('.z-figure img').getAttribute('src'))")
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))).convert("L"), dtype=float)
            for s in srcs]


def test_explorer_side_by_side_decoders_share_one_latent_space_unless_asked_otherwise(app_page):
    import numpy as np

    url, page = app_page
    page.goto(url)
    wait_idle(page)
    page.wait_for_selector(PANEL_CHART)
    page.get_by_text("Same encoder: only the decoder").first.wait_for()
    correlations = []
    for _ in range(5):  # random z: the median of a few, as the shipped decoders are held to (tests/test_pairing.py)
        before = first_image_src(page)
        page.get_by_role("button", name="Random z ~ N(0, I)").click()
        page.wait_for_function("([sel, src]) => document.querySelector(sel).getAttribute('src') !== src",
                               arg=[PANEL_IMAGE, before])
        wait_idle(page)
        left, right = column_images(page)
        correlations.append(np.corrcoef(left.ravel(), right.ravel())[0, 1])
    assert np.median(correlations) >= 0.9, correlations

    page.locator("label").filter(has_text="Independently trained VAEs").click()  # st.radio: its label takes the click
    page.get_by_text("each learned its own latent space").first.wait_for()
    wait_idle(page)
    assert page.locator(".z-title code").all_inner_texts() == ["mnist-sigmoid-z20", "mnist-raw-z20"]


def test_explorer_histograms_follow_a_dark_theme(app_page):
    url, page = app_page
    dark = page.context.browser.new_page(color_scheme="dark", viewport={"width": 1400, "height": 1600})
    try:
        dark.goto(url)
        wait_idle(dark)
        dark.wait_for_selector(PANEL_CHART)
        text, paper, font = dark.locator(".z-chart").first.evaluate(
            "div => [getComputedStyle(div).color, div._fullLayout.paper_bgcolor, div._fullLayout.font.color]")
        assert sum(map(int, re.findall(r"\d+", text)[:3])) > 3 * 160, f"Streamlit's dark theme has light text: {text}"
        numbers = lambda colour: re.findall(r"[\d.]+", colour)  # noqa: E731 - "rgb(1, 2, 3)" == "rgb(1,2,3)"
        assert numbers(paper) == ["0", "0", "0", "0"], "no white box behind the histograms"
        assert numbers(font) == numbers(text), "axis labels in the page's own text colour"
    finally:
        dark.close()


def test_drawing_a_digit_gives_reconstructions(app_page):
    url, page = app_page
    page.goto(f"{url}/reconstructions")
    wait_idle(page)
    page.get_by_text("Draw one").click()
    wait_idle(page)
    # streamlit-drawable-canvas 0.13 is a v2 component: its fabric.js canvases live in the page (no iframe);
    # the last one is fabric's upper canvas, which receives the mouse.
    canvas = page.locator("[data-testid='stBidiComponentIsolated'] canvas").last
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box is not None
    # A vertical stroke with a small hook: a "1".
    x0, y0 = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.2
    page.mouse.move(x0 - 20, y0 + 25)
    page.mouse.down()
    page.mouse.move(x0, y0, steps=5)
    page.mouse.move(x0 + 5, y0 + box["height"] * 0.6, steps=15)
    page.mouse.up()
    page.get_by_text("input: your drawing").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.locator("[data-testid='stImage'] img").count() >= 6  # the input + five heads
    assert page.locator("[data-testid='stCode']").filter(has_text="between 0 and 1").first.is_visible()
    page.screenshot(path=str(SHOTS / "reconstructions.png"), full_page=True)


def test_clicking_the_latent_scatter_decodes_that_point(app_page):
    url, page = app_page
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # playwright only when browser tests run

    page.goto(f"{url}/latent_map")
    wait_idle(page)
    page.get_by_text("Click a point in the scatter").wait_for()
    # Click the plot area where the densest cluster of encoded digits lies (around z = 0).
    plot = page.locator("[data-testid='stPlotlyChart'] .nsewdrag").first
    box = plot.bounding_box()
    assert box is not None
    for dx, dy in ((0.5, 0.5), (0.48, 0.52), (0.52, 0.48), (0.5, 0.55), (0.45, 0.5)):
        page.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
        try:
            page.get_by_text(re.compile(r"sigmoid at z = \(")).wait_for(timeout=5_000)
            break
        except PlaywrightTimeoutError:  # no point under the cursor; try a neighbouring spot
            continue
    wait_idle(page)
    captions = page.get_by_text(re.compile(r"(sigmoid|raw) at z = \(")).all_inner_texts()
    assert len(captions) == 2, captions


@pytest.mark.parametrize("slug", [p for p in PAGES if p != "reconstructions"])
def test_other_pages_render_in_the_browser(app_page, slug):
    url, page = app_page
    page.goto(f"{url}/{slug}")
    wait_idle(page)
    page.get_by_role("heading", name=PAGES[slug]).first.wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    # the screenshot shows the charts drawn, not their empty frames
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stPlotlyChart']\")]"
                           ".every(chart => chart.querySelector('.main-svg'))")
    page.screenshot(path=str(SHOTS / f"{slug}.png"), full_page=True)


def test_the_answers_tour_renders_six_verdicts_and_reaches_the_explorer(app_page):
    url, page = app_page
    page.goto(f"{url}/answers")
    wait_idle(page)
    page.get_by_role("heading", name="The answers, tested").first.wait_for()
    page.get_by_text("Verdict:").nth(5).wait_for()  # one per claim, the live ones included
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(SHOTS / "answers.png"), full_page=True)
    link = page.get_by_role("link", name=re.compile("clipped as save_image does"))
    assert re.search(r"view=raw&display=clip", link.get_attribute("href") or "")


def test_a_second_visitor_sees_no_exception_after_crafted_but_valid_imports(tmp_path, app_page):
    """One visitor imports files whose metadata is at every bound (and one named with markdown);
    another then walks every page: no exception, no request to a URL from the files."""
    import json

    from backend_fixtures import checkpoint_meta, safetensors_bytes, small_model, state_of

    from vae import checkpoints

    model = small_model(latent=20, hidden=16)
    meta = {**checkpoint_meta(model, head="raw").to_dict(), "epochs": 10_000,
            "history": [{"epoch": i + 1, "train_loss": 1e300, "test_loss": -1e300, "seconds": 0.0} for i in range(500)]}
    crafted = safetensors_bytes(state_of(model), raw_meta={checkpoints.METADATA_KEY: json.dumps(meta)})
    fetched: list[str] = []
    b = app_page[1].context.browser  # the module's Chromium: one Playwright per thread at a time
    with streamlit_server(env={"VAE_USER_CHECKPOINT_DIR": str(tmp_path / "user")}) as url:
        first = b.new_context(viewport={"width": 1400, "height": 2400}).new_page()
        first.set_default_timeout(60_000)
        first.on("request", lambda r: fetched.append(r.url))
        first.goto(f"{url}/import_checkpoint")
        wait_idle(first)
        for name, save_as in (("crafted.safetensors", "crafted"), ("![x](http-pixel).safetensors", "marked")):
            first.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
                files=[{"name": name, "mimeType": "application/octet-stream", "buffer": crafted}])
            wait_idle(first)
            first.get_by_label("Save as").fill(save_as)
            first.get_by_label("Save as").press("Enter")
            wait_idle(first)
            first.get_by_role("button", name="Validate and import").click()
            first.get_by_text(f"Imported as user/{save_as}").wait_for()
            wait_idle(first)
        assert (tmp_path / "user" / "crafted.safetensors").is_file()

        second = b.new_context(viewport={"width": 1400, "height": 2400}).new_page()
        second.set_default_timeout(60_000)
        second.on("request", lambda r: fetched.append(r.url))
        for slug in ["", *PAGES]:
            second.goto(f"{url}/{slug}")
            wait_idle(second)
            assert second.locator("[data-testid='stException']").count() == 0, slug
    assert not [u for u in fetched if "pixel" in u], "a URL from an uploaded name was fetched"
