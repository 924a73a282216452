"""Pages that show several models key everything by checkpoint: a user's model of a shipped head
adds a trace, an image and a row of its own, labelled by its name; the Activation comparison's
caption names the z its images were decoded at."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from app_fixtures import run_app

import vae.paths
from ui import state

pytestmark = pytest.mark.usefixtures("isolated_user_dir")


def chart_traces(at, key: str) -> list[str]:
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    return [t.get("name") for t in json.loads(chart.proto.spec)["data"]]


def test_a_user_model_of_a_shipped_head_gets_its_own_trace_image_and_row(isolated_user_dir):
    isolated_user_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(vae.paths.CHECKPOINT_DIR / "mnist-raw-z20.safetensors", isolated_user_dir / "my-copy.safetensors")
    at = run_app("pages/reconstructions.py")
    table = at.dataframe[0].value
    names = list(table["checkpoint"])
    assert "user/my-copy" in names and "mnist-raw-z20" in names and len(names) == len(set(names))
    traces = chart_traces(at, "recon_overlay")
    assert len(traces) == len(names) + 1, "one trace per checkpoint, plus the data"
    assert "user/my-copy (raw)" in traces and "mnist-raw-z20" in traces
    captions = [img.proto.imgs[0].caption for img in at.get("image")]
    assert len(captions) == len(names) + 1 and len(set(captions)) == len(captions), "the input + one per model"
    assert any(c.startswith("user/my-copy") for c in captions)


def test_random_z_caption_names_the_z_the_images_were_decoded_at():
    at = run_app("pages/heads.py")
    for _ in range(2):
        next(b for b in at.button if b.label == "Random z").click().run()
        (caption,) = [c.value for c in at.caption if c.value.startswith("z = (")]
        shown = [float(v) for v in re.match(r"z = \(([^)]*)\)", caption).group(1).split(",")]
        assert np.allclose(shown, at.session_state[state.Z_KEY][:20], atol=0.005), "the caption is this click's z"
