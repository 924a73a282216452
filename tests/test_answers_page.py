"""The tour page "The answers, tested" (AppTest): shipped results, synthetic outcomes, live demos."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
import torch
import torch.nn.functional as F
from app_fixtures import run_app
from sweep_fixtures import synthetic_results, write_results

from services import evidence

PAGE = "app_pages/answers.py"


def verdicts(at) -> list[str]:
    return [e.value for kind in (at.success, at.warning, at.info) for e in kind if e.value.startswith("**Verdict")]


def verdict_of(at, status: str, words: str) -> str:
    (match,) = [v for v in verdicts(at) if v.startswith(f"**Verdict: {status}.**") and words in v]
    return match


@pytest.fixture
def results_at(monkeypatch, tmp_path):
    """Point the page at results files written for the test (no decoder-only file)."""
    def use(doc: dict):
        path = write_results(tmp_path / f"results-{len(list(tmp_path.iterdir()))}.json", doc)
        monkeypatch.setattr(evidence, "SHIPPED", {"whole": path})
        return run_app(PAGE)
    return use


def test_the_page_walks_six_claims_with_a_verdict_each_from_the_shipped_results():
    at = run_app(PAGE)
    assert at.title[0].value == "The answers, tested"
    assert [s.value.split(".")[0] for s in at.subheader] == ["1", "2", "3", "4", "5", "6"]
    doc = evidence.load_results(evidence.SHIPPED["whole"])
    final, epochs = evidence.final_table(doc), evidence.epoch_table(doc)
    n_runs = len(json.loads(evidence.SHIPPED["whole"].read_text())["runs"])
    assert at.caption[0].value.startswith(f"{n_runs} runs: ")
    shown = verdicts(at)
    assert len(shown) == 6
    for v in (evidence.verdict_range(final), evidence.verdict_learns_range(epochs),
              evidence.verdict_stability(final)):
        assert f"**Verdict: {v.status}.** {v.text}" in shown
    assert len(at.get("plotly_chart")) >= 4


def test_the_verdicts_follow_the_results_they_are_fed(results_at):
    sig = results_at(synthetic_results(sigmoid_wins=True))
    raw = results_at(synthetic_results(sigmoid_wins=False))
    assert "8 runs: 2 heads (sigmoid, raw) × 2 learning rates (0.001, 0.03) × 2 seeds" in sig.caption[0].value
    verdict_of(sig, "holds", "The sigmoid keeps every pixel inside [0, 1]")
    verdict_of(raw, "does not hold", "The sigmoid runs put up to 0.20% of pixels outside [0, 1]")
    verdict_of(sig, "holds", "No run got under 1%")
    verdict_of(raw, "partly", "Every run ended under 1%")
    verdict_of(sig, "holds", "raw: 2 of 4 runs diverged (2 at lr 0.03)")
    verdict_of(raw, "does not hold", "sigmoid: 2 of 4 runs diverged (2 at lr 0.03)")


def test_without_results_the_page_says_how_to_make_them_and_still_computes_live(monkeypatch, tmp_path):
    monkeypatch.setattr(evidence, "SHIPPED", {"whole": tmp_path / "missing.json"})
    at = run_app(PAGE)
    assert any("python -m vae.sweep" in w.value for w in at.warning)
    assert [s.value.split(".")[0] for s in at.subheader] == ["4", "5", "6"]


def test_a_results_file_without_runs_yet_is_not_offered(monkeypatch, tmp_path):
    whole = write_results(tmp_path / "whole.json", synthetic_results(sigmoid_wins=True))
    empty = write_results(tmp_path / "empty.json", {**synthetic_results(sigmoid_wins=True), "runs": []})
    monkeypatch.setattr(evidence, "SHIPPED", {"whole": whole, "decoder-only": empty})
    at = run_app(PAGE)
    assert at.radio(key="answers_results").options == ["whole VAE retrained per head (the questioner's experiment)"]
    assert evidence.by_head_and_lr(evidence.final_table({"runs": []})).empty


def test_a_broken_results_file_is_reported_as_plain_text(results_at):
    at = results_at({"schema": "vae-sweep/1", "runs": [{"head": "<b>tanh</b>"}]})
    assert any("not a" in t.value or "no valid config" in t.value for t in at.text)
    assert not any("<b>" in m.value for m in at.markdown)


def test_the_saturation_step_shows_torchs_own_numbers_for_the_chosen_logit():
    at = run_app(PAGE)
    verdict_of(at, "holds", "sigmoid + BCE gives 100 nats with gradient 0")
    at.slider(key="answers_logit").set_value(0.0).run()
    at.select_slider(key="answers_target").set_value(0.75).run()
    (table,) = [d.value for d in at.dataframe if "d loss / d z" in d.value.columns]
    z = torch.tensor(0.0, requires_grad=True)
    loss = F.binary_cross_entropy(torch.sigmoid(z), torch.tensor(0.75))
    loss.backward()
    assert table["loss (nats)"][0] == loss.item() and table["d loss / d z"][0] == z.grad.item()
    verdict_of(at, "not shown", "the two forms agree")


def test_the_explorer_link_opens_the_raw_decoder_clipped():
    at = run_app(PAGE)
    url = at.get("link_button")[0].proto.url
    query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert query["view"] == "raw" and query["display"] == "clip" and len(query["z"].split(",")) == 20
    explorer = run_app(None, **query)
    assert explorer.session_state["view"] == "raw" and explorer.session_state["display"] == "clip"


def test_the_first_screen_links_to_the_tour():
    at = run_app()
    links = [e for e in at.sidebar.get("page_link")]
    assert any("answers" in e.proto.page and "The answers, tested" in e.proto.label for e in links)


def test_the_decoder_only_results_can_be_chosen_and_say_what_they_are(monkeypatch, tmp_path):
    whole = write_results(tmp_path / "whole.json", synthetic_results(sigmoid_wins=True))
    doc = synthetic_results(sigmoid_wins=False)
    doc["config"]["encoder_from"] = {"file": "mnist-sigmoid-z20.safetensors", "sha256": "0" * 64}
    monkeypatch.setattr(evidence, "SHIPPED", {"whole": whole, "decoder-only": write_results(tmp_path / "dec.json", doc)})
    at = run_app(PAGE)
    assert "each run a whole VAE" in at.caption[0].value
    verdict_of(at, "holds", "raw: 2 of 4 runs diverged")
    at.radio(key="answers_results").set_value("decoder-only").run()
    assert "only the decoder trained, on the frozen encoder" in at.caption[0].value
    verdict_of(at, "does not hold", "sigmoid: 2 of 4 runs diverged")
