"""Pages that show several models key everything by checkpoint: a user's model of a shipped head
adds a trace, an image and a row of its own, labelled by its name; the Activation comparison's
caption names the z its images were decoded at."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from app_fixtures import run_app

from ui import state

pytestmark = pytest.mark.usefixtures("isolated_user_dir")


def chart_traces(at, key: str) -> list[str]:
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    return [t.get("name") for t in json.loads(chart.proto.spec)["data"]]


@pytest.mark.parametrize("pair", ["same", "independent"])
def test_reconstructions_show_one_trace_image_and_row_per_checkpoint_named_by_it(pair):
    at = run_app("app_pages/reconstructions.py")
    at.radio(key="recon_pair").set_value(pair).run()
    names = list(at.dataframe[0].value["checkpoint"])
    assert len(names) == len(set(names)) >= 5
    traces = chart_traces(at, "recon_overlay")
    assert len(traces) == len(names) + 1 and traces[-1] == "pixels of the data", "one trace per checkpoint + data"
    assert all(any(t.startswith(n) for t in traces) for n in names)
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert len(captions) == len(names) + 1, "the input + one image per checkpoint"
    assert all(any(c.startswith(n) for c in captions) for n in names)


def test_random_z_caption_names_the_z_the_images_were_decoded_at():
    at = run_app("app_pages/heads.py")
    for _ in range(2):
        next(b for b in at.button if b.label == "Random z").click().run()
        (caption,) = [c.value for c in at.caption if c.value.startswith("z = (")]
        match = re.match(r"z = \(([^)]*)\)", caption)
        assert match is not None, caption
        shown = [float(v) for v in match.group(1).split(",")]
        assert np.allclose(shown, at.session_state[state.Z_KEY][:20], atol=0.005), "the caption is this click's z"


def test_the_explorers_decoder_toggle_names_the_chosen_heads():
    at = run_app()
    assert list(at.segmented_control[0].options) == ["Sigmoid decoder", "Raw decoder", "Side by side"]
    at.selectbox(key="right").set_value("mnist-clamp-z20-on-sigmoid-encoder").run()
    assert list(at.segmented_control[0].options) == ["Sigmoid decoder", "Clamp decoder", "Side by side"]
    assert not any("Raw decoder" in c.value for c in at.caption)
