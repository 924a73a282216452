"""The Streamlit app, driven headlessly with streamlit.testing.v1.AppTest.

Each page must render without an exception on the shipped checkpoints and sample;
the explorer's widgets must change what is drawn, and what is drawn must be what the
backend computes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from app_fixtures import PAGES, ROOT, run_app
from app_fixtures import explorer_panel as panel
from streamlit.testing.v1 import AppTest

import vae.paths
from services.decoding import decode_point
from services.latent_geometry import chi2_quantile
from ui import figures
from ui.state import Z_KEY
from vae.checkpoints import load_checkpoint

# every test: user checkpoints in a temporary folder, a fresh catalog
pytestmark = pytest.mark.usefixtures("isolated_user_dir")


def z_values(at: AppTest) -> list[float]:
    return panel(at)["z"]


def image_srcs(at: AppTest) -> list[str]:
    # PNG data URIs: a different picture gives a different string.
    return [image["src"] for column in panel(at)["columns"] for image in column["images"]]


def shown_counts(at: AppTest) -> list[tuple[int, int]]:
    pattern = re.compile(r"Below 0: (\d+) .*above 1: (\d+) ")
    return [tuple(map(int, pattern.search(c["counts"]).groups())) for c in panel(at)["columns"]]


def move_sliders(at: AppTest, z: list[float]) -> AppTest:
    """What a slider move does on the server: its callback stores z, the panel reruns."""
    at.session_state[Z_KEY] = z
    return at.run()


def test_every_page_file_is_registered_in_the_navigation():
    app_source = (ROOT / "app.py").read_text()
    assert PAGES and all(f'"{page}"' in app_source for page in PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception_and_explains_itself(page):
    at = run_app(page)
    assert at.title, "each page has a title"
    assert any(len(md.value) > 200 for md in at.markdown), "each page explains what it shows"
    assert not at.error, [e.value for e in at.error]


def test_explorer_has_one_slider_per_latent_dimension_in_prior_units():
    p = panel(run_app())
    assert len(p["z"]) == 20
    assert (p["limit"], p["step"]) == (3.0, 0.05)


def test_explorer_serves_plotly_js_from_the_installed_plotly_package():
    import plotly

    from ui.latent_panel import _PLOTLY_FILES, PLOTLY_JS_URL

    assert panel(run_app())["plotly"] == PLOTLY_JS_URL == f"component/{_PLOTLY_FILES.name}/plotly.min.js"
    assert Path(_PLOTLY_FILES.path, "plotly.min.js").read_bytes()[:200] == \
        (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()[:200]


def test_moving_a_slider_changes_the_decoded_images():
    at = run_app()
    before = image_srcs(at)
    after = image_srcs(move_sliders(at, [2.5] + [0.0] * 19))
    assert len(before) == len(after) == 3  # sigmoid image, raw image, raw out-of-range overlay
    assert all(a != b for a, b in zip(before, after))
    assert panel(at)["z"][0] == 2.5


def test_decoder_toggle_switches_between_sigmoid_and_raw():
    at = run_app()
    at.segmented_control[0].set_value("sigmoid").run()
    assert [(c["title"], c["name"]) for c in panel(at)["columns"]] == [
        ("Sigmoid + Bernoulli (BCE)", "mnist-sigmoid-z20")]
    at.segmented_control[0].set_value("raw").run()
    assert [(c["title"], c["name"]) for c in panel(at)["columns"]] == [
        ("Raw (identity) + Gaussian (MSE)", "mnist-raw-z20-on-sigmoid-encoder")]


def test_choosing_a_2d_model_gives_two_sliders_and_its_raw_twin():
    at = run_app(z="1,2,3")
    at.selectbox(key="left").set_value("mnist-sigmoid-z2").run()
    p = panel(at)
    assert p["z"] == [1.0, 2.0], "z keeps its first coordinates"
    assert [c["name"] for c in p["columns"]] == ["mnist-sigmoid-z2", "mnist-raw-z2-on-sigmoid-encoder"]
    assert at.selectbox(key="right").options == ["mnist-raw-z2-on-sigmoid-encoder"], "the decoders of its encoder"


def test_switching_to_fashion_mnist_decodes_with_its_models_and_data():
    at = run_app()
    at.selectbox(key="dataset").set_value("fashion-mnist").run()
    p = panel(at)
    assert [c["name"] for c in p["columns"]] == ["fashion-mnist-sigmoid-z20", "fashion-mnist-raw-z20-on-sigmoid-encoder"]
    data_curve = [t for t in p["columns"][0]["chart"]["data"] if t["name"] == "pixels of the data"]
    assert data_curve and data_curve[0]["y"] != panel(run_app())["columns"][0]["chart"]["data"][1]["y"], \
        "the overlaid data histogram is the chosen dataset's"


def test_sigmoid_view_adds_the_logits_with_the_sigmoid_curve():
    (column,) = panel(run_app(view="sigmoid"))["columns"]
    chart = column["chart"]
    assert [t["name"] for t in chart["data"]] == ["this image", "pixels of the data", "logits", "sigmoid(t)"]
    assert [a["text"].split("<br>")[0] for a in chart["layout"]["annotations"]] == [
        "Output pixel values", "Pre-activation logits and the sigmoid that maps them into (0, 1)"]
    columns = panel(run_app(view="both"))["columns"]
    assert [[t["name"] for t in c["chart"]["data"]] for c in columns] == [["this image", "pixels of the data"]] * 2, \
        "side by side: each decoder's column carries its own pixel histogram (kept with its image on a phone)"
    assert [c["chart"]["data"][0]["marker"]["color"] for c in columns] == [figures.COLORS["sigmoid"],
                                                                            figures.COLORS["raw"]]


def test_out_of_range_counts_shown_equal_the_backends():
    z = np.zeros(20)
    z[:3] = [1.5, -2.0, 0.5]
    at = run_app(z=",".join(map(str, z)))
    backend = []
    for name in ("mnist-sigmoid-z20", "mnist-raw-z20-on-sigmoid-encoder"):
        out = decode_point(load_checkpoint(vae.paths.CHECKPOINT_DIR / f"{name}.safetensors"), z)
        backend.append((out.below, out.above))
    assert shown_counts(at) == backend
    assert backend[0] == (0, 0) and sum(backend[1]) > 0, "the raw decoder leaves [0, 1], the sigmoid cannot"


def test_state_round_trips_through_the_url():
    at = run_app(z="1,-1,0.5", view="raw", display="wrap")
    assert z_values(at)[:4] == [1.0, -1.0, 0.5, 0.0]
    assert at.segmented_control[0].value == "raw" and at.radio(key="display").value == "wrap"
    move_sliders(at, [1.0, -1.0, 0.5, 2.0] + [0.0] * 16)
    query = panel(at)["query"]  # what the panel writes into the browser's URL
    assert query["z"].startswith("1,-1,0.5,2,0") and query["view"] == "raw" and query["display"] == "wrap"
    again = run_app(**query)
    assert z_values(again)[:4] == [1.0, -1.0, 0.5, 2.0] and again.segmented_control[0].value == "raw"


def test_malformed_url_state_is_ignored_with_a_one_line_notice():
    at = run_app(z="1,nan,x", view="nonsense", evil="![x](http://example.invalid/t.png)")
    assert z_values(at) == [0.0] * 20
    assert at.segmented_control[0].value == "both"
    (notice,) = [c.value for c in at.caption if "ignored" in c.value]
    assert "z, view" in notice and "1 unknown parameter" in notice
    assert "example.invalid" not in notice, "a link's own text is never echoed"
    assert not [c.value for c in run_app(z="0.5", view="raw").caption if "ignored" in c.value], "a good link: no notice"


def test_reset_random_and_start_from_digit_buttons_set_z_and_move_the_sliders():
    at = run_app(z="1,1,1")
    revision = panel(at)["rev"]
    buttons = {b.label: b for b in at.button}
    buttons["Reset to 0"].click().run()
    assert z_values(at) == [0.0] * 20
    assert panel(at)["rev"] > revision, "a new revision is what moves the sliders in the browser"
    {b.label: b for b in at.button}["Random z ~ N(0, I)"].click().run()
    assert any(v != 0.0 for v in z_values(at))
    {b.label: b for b in at.button}["Start from this digit"].click().run()
    from services.decoding import encode_mean
    from vae.data import load_sample

    ckpt = load_checkpoint(vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z20.safetensors")
    mu = encode_mean(ckpt, load_sample().floats()[:1])[0]
    np.testing.assert_allclose(z_values(at), np.clip(mu, -3, 3), atol=0.026)


def test_a_slider_move_keeps_the_revision_so_the_browser_does_not_snap_back():
    at = run_app()
    revision = panel(at)["rev"]
    assert panel(move_sliders(at, [0.5] * 20))["rev"] == revision


def _take(values):
    import streamlit as st

    from ui import state

    st.session_state["taken"] = state.take_z_from_sliders(values)
    st.session_state["z_after"] = st.session_state.get(state.Z_KEY)


@pytest.mark.parametrize("values", [None, "1,2", [], [1.0] * 129, [float("nan")], [float("inf"), 0.0],
                                    ["1"], [True, 0.0], {"z": [1.0]}])
def test_slider_values_from_the_browser_are_checked_before_use(values):
    at = AppTest.from_function(_take, args=(values,)).run()
    assert at.session_state["taken"] is False and at.session_state["z_after"] is None


def test_slider_values_from_the_browser_are_snapped_to_the_slider_grid():
    at = AppTest.from_function(_take, args=([0.51, -7.0, 3],)).run()
    assert at.session_state["taken"] is True and at.session_state["z_after"] == [0.5, -3.0, 3.0]


def test_z_far_outside_the_prior_gets_a_warning():
    at = run_app(z=",".join(["3"] * 20))
    assert 9 * 20 > chi2_quantile(20)
    assert "outside the prior" in panel(at)["warning"]
    assert panel(run_app(z="0.5"))["warning"] is None


def test_reconstructions_page_shows_pytorchs_bce_error_for_the_raw_head():
    at = run_app("app_pages/reconstructions.py")
    table = at.dataframe[0].value
    raw = table[table["head"] == "raw"].iloc[0]
    sigmoid = table[table["head"] == "sigmoid"].iloc[0]
    assert raw["F.binary_cross_entropy(output, x)"].startswith("RuntimeError")
    assert sigmoid["F.binary_cross_entropy(output, x)"] == "accepted"
    (code,) = [c.value for c in at.code if "between 0 and 1" in c.value]
    assert code == "RuntimeError: all elements of input should be between 0 and 1", "PyTorch's words, whole"
    (refused,) = [m.value for m in at.markdown if "refuses the outputs of" in m.value]
    assert all(f"`{n}`" in refused for n in table[table["head"].isin(["raw", "logits"])]["checkpoint"])


def test_reconstructions_page_accepts_an_uploaded_digit_and_refuses_a_non_image():
    import io

    from PIL import Image

    at = run_app("app_pages/reconstructions.py")
    at.radio(key="recon_source").set_value("upload").run()
    digit = np.zeros((64, 48), dtype=np.uint8)
    digit[10:54, 20:28] = 255  # a "1", white on black
    buf = io.BytesIO()
    Image.fromarray(digit).save(buf, format="PNG")
    at.file_uploader[0].set_value(("one.png", buf.getvalue(), "image/png")).run()
    assert not at.exception and len(at.dataframe[0].value) == 5
    at.file_uploader[0].set_value(("fake.png", b"not an image at all", "image/png")).run()
    assert not at.exception
    assert any("fake.png" in e.value and "not an image" in e.value for e in at.error)


def test_activation_comparison_lists_every_head_with_its_metrics():
    at = run_app("app_pages/heads.py")
    table = at.dataframe[0].value
    assert set(table["head"]) == {"sigmoid", "raw", "logits", "continuous-bernoulli", "clamp"}
    raw = table[table["head"] == "raw"].iloc[0]
    assert raw["% < 0"] > 1 and table[table["head"] == "sigmoid"].iloc[0]["% < 0"] == 0


def test_latent_map_decodes_a_grid_for_both_latent_2_decoders():
    at = run_app("app_pages/latent_map.py")
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert any(c.startswith("Sigmoid") and "outside [0, 1]" in c for c in captions)
    assert any(c.startswith("Raw") and "outside [0, 1]" in c for c in captions)


def test_import_page_rejects_a_bad_file_and_keeps_running(isolated_user_dir):
    at = run_app("app_pages/import_checkpoint.py")
    at.file_uploader[0].set_value(("evil.pt", b"\x80\x04garbage", "application/octet-stream")).run()
    at.button(key="import_go").click().run()
    assert not at.exception
    assert any("evil.pt" in e.value for e in at.error)
    assert not isolated_user_dir.exists() or not any(isolated_user_dir.iterdir())


def test_import_page_imports_a_classic_state_dict_and_makes_it_selectable(isolated_user_dir, tmp_path):
    import io

    ckpt = load_checkpoint(vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z20.safetensors")
    buf = io.BytesIO()
    torch.save(ckpt.model.state_dict(), buf)
    at = run_app("app_pages/import_checkpoint.py")
    at.file_uploader[0].set_value(("classic_vae.pt", buf.getvalue(), "application/octet-stream")).run()
    at.button(key="import_go").click().run()
    assert not at.error, [e.value for e in at.error]
    assert (isolated_user_dir / "classic_vae.safetensors").is_file()
    at = run_app()
    left = at.selectbox(key="left")
    assert "user/classic_vae" in left.options


def server_config() -> dict:
    """The repo's .streamlit/config.toml, which `make run` starts the server with."""
    import tomllib

    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_the_server_skips_streamlits_full_gc_after_every_rerun():
    # With torch loaded, gc.collect(2) after each script run took 150-230 ms and held back every
    # slider move's reply (bench/RESULTS.md, section 3); Python's generational GC still runs.
    assert server_config()["runner"]["postScriptGC"] is False


def test_the_server_does_not_watch_the_venv_with_inotify():
    # The inotify watcher recursively watches the repo folder, .venv included: overflow warnings
    # and a slower start (bench/RESULTS.md, section 4). Polling watches only the app's modules.
    assert server_config()["server"]["fileWatcherType"] == "poll"
