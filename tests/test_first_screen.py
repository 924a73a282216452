"""What a visitor sees without scrolling, and what the browser fetches: the real app in Chromium.

* At 1280x720 the explorer's first screen holds the answer (with PyTorch's own RuntimeError),
  the decoder toggle (its labels whole), at least one slider and both decoded images; a
  far-out z's warning does not move the images.
* At 390 px (a phone) every decoded image keeps its histogram right under it.
* A walk through every page requests nothing from any host but the app's own server.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_helpers import PANEL_CHART, PANEL_IMAGE, PANEL_SLIDER, ROOT, app_in_chromium, wait_idle

pytestmark = pytest.mark.browser

PAGE_SLUGS = sorted(p.stem for p in (ROOT / "app_pages").glob("*.py") if p.stem != "explorer")
SUMMARY = "[data-testid='stMainBlockContainer'] ol"  # the answer's three points
# What a laptop and a phone show on load; `make screenshots` points this at docs/screenshots.
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-output" / "screenshots"))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with app_in_chromium(tmp_path_factory.mktemp("user_checkpoints")) as (url, b):
        yield url, b


def open_explorer(b, url: str, width: int, height: int, query: str = ""):
    page = b.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(90_000)
    page.goto(f"{url}/{query}")
    wait_idle(page)
    page.wait_for_selector(PANEL_CHART)
    page.get_by_text("RuntimeError: all elements of input should be between 0 and 1").first.wait_for()
    wait_idle(page)
    return page


def inside(box: dict | None, width: int, height: int) -> bool:
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and \
        box["x"] + box["width"] <= width and box["y"] + box["height"] <= height


def decoded_images(page) -> list:
    """The first image of each decoder column: what each decoder made of z."""
    return [column.locator(PANEL_IMAGE).first for column in page.locator(".z-column").all()]


def test_the_first_screen_at_1280x720_holds_the_answer_a_slider_and_both_images(app):
    url, b = app
    page = open_explorer(b, url, 1280, 720)
    try:
        summary = page.locator(SUMMARY).first
        assert summary.locator("li").count() == 3 and "sigmoid" in summary.inner_text()
        assert inside(summary.bounding_box(), 1280, 720), "the answer is on the first screen"
        assert inside(page.locator(PANEL_SLIDER).first.bounding_box(), 1280, 720), "a slider without scrolling"
        images = decoded_images(page)
        assert len(images) == 2
        for image in images:
            assert inside(image.bounding_box(), 1280, 720), "both decoded images without scrolling"
        # The toggle's first option is not clipped: its text starts inside the main column.
        option = page.get_by_role("radio", name="Sigmoid decoder", exact=True)
        main = page.locator("[data-testid='stMainBlockContainer']").bounding_box()
        assert option.bounding_box()["x"] >= main["x"] and option.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        tops = [image.bounding_box()["y"] for image in images]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "explorer-1280x720.png"))
    finally:
        page.close()

    far = open_explorer(b, url, 1280, 720, "?z=" + ",".join(["3"] * 20))
    try:
        assert "outside the prior" in far.locator(".z-prior").inner_text()
        assert [image.bounding_box()["y"] for image in decoded_images(far)] == tops, "the warning moves nothing"
    finally:
        far.close()


def test_on_a_phone_each_image_keeps_its_histogram_right_under_it(app):
    url, b = app
    page = open_explorer(b, url, 390, 844)
    try:
        columns = page.locator(".z-column").all()
        assert len(columns) == 2
        for column in columns:
            image = column.locator(PANEL_IMAGE).last.bounding_box()
            column.locator(".z-chart .main-svg").first.wait_for()
            chart = column.locator(".z-chart").bounding_box()
            gap = chart["y"] - (image["y"] + image["height"])
            assert 0 <= gap < 120, f"histogram {gap:.0f} px below its image"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "explorer-390x844.png"))
    finally:
        page.close()


def test_a_walk_through_every_page_requests_nothing_from_outside_the_app(app):
    url, b = app
    own = urlsplit(url).netloc
    page = b.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(90_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda ws: requested.append(ws.url))
    try:
        page.goto(url)
        wait_idle(page)
        page.wait_for_selector(PANEL_CHART)
        page.locator(PANEL_SLIDER).first.focus()
        for _ in range(3):  # reruns: where a page icon from a font host was fetched again and again
            page.keyboard.press("ArrowRight")
            wait_idle(page)
        for slug in PAGE_SLUGS:
            page.goto(f"{url}/{slug}")
            wait_idle(page)
            assert page.locator("[data-testid='stException']").count() == 0, slug
            shown = page.locator(".modebar").evaluate_all("bars => bars.filter(b => b.offsetParent !== null).length")
            assert shown == 0, f"{slug}: no plotly mode bar over the chart titles"
        page.wait_for_timeout(1000)
    finally:
        page.close()
    outside = sorted({u for u in requested if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                      and urlsplit(u).netloc != own})
    assert not outside, outside
    assert any(urlsplit(u).netloc == own for u in requested), "the walk was recorded"


def test_page_slugs_cover_every_page_file():
    assert len(PAGE_SLUGS) == len(list(Path(ROOT / "app_pages").glob("*.py"))) - 1
