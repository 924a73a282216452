"""services.evidence (sweep results -> tables and verdicts) and services.bce_demo (held to torch)."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sweep_fixtures import synthetic_results, write_results
from torch.distributions import ContinuousBernoulli

from services import bce_demo, evidence
from services.evidence import ResultsError


def _tables(tmp_path, sigmoid_wins):
    doc = evidence.load_results(write_results(tmp_path / f"r{sigmoid_wins}.json", synthetic_results(sigmoid_wins)))
    return evidence.final_table(doc), evidence.epoch_table(doc)


def test_the_shipped_results_load_and_count_their_own_runs():
    path = evidence.SHIPPED["whole"]
    raw = json.loads(path.read_text())
    final = evidence.final_table(evidence.load_results(path))
    assert len(final) == len(raw["runs"]) > 0
    assert evidence.run_count_sentence(final).startswith(f"{len(raw['runs'])} runs: ")
    assert int(final["diverged"].sum()) == sum(r["diverged"] for r in raw["runs"])


def test_final_and_epoch_tables_hold_every_run_and_epoch(tmp_path):
    final, epochs = _tables(tmp_path, sigmoid_wins=True)
    assert len(final) == 8 and len(epochs) == 6 * 3 + 2 * 1  # two diverged raw runs stopped in epoch 2
    bad = final[final["diverged"]]
    assert set(bad["head"]) == {"raw"} and set(bad["lr"]) == {3e-2} and bad["bce"].isna().all()
    assert list(bad["diverged_epoch"]) == [2, 2] and list(bad["diverged_step"]) == [17, 17]
    table = evidence.by_head_and_lr(final)
    row = table[(table["head"] == "raw") & (table["lr"] == 3e-2)].iloc[0]
    assert (row["runs"], row["diverged"]) == (2, 2) and math.isnan(row["bce_mean"])


def test_the_range_verdict_follows_whether_the_sigmoid_runs_left_the_unit_interval(tmp_path):
    good = evidence.verdict_range(_tables(tmp_path, True)[0])
    bad = evidence.verdict_range(_tables(tmp_path, False)[0])
    assert good.status == "holds" and "sigmoid: not one test pixel outside [0, 1] in any of 4 finished runs" in good.text
    assert "raw: 30.00–30.00% of test pixels outside" in good.text
    assert bad.status == "does not hold" and "up to 0.20%" in bad.text


def test_the_learning_verdict_follows_whether_the_raw_head_got_inside(tmp_path):
    stays = evidence.verdict_learns_range(_tables(tmp_path, True)[1])
    learns = evidence.verdict_learns_range(_tables(tmp_path, False)[1])
    assert stays.status == "holds" and "No run got under 1%" in stays.text and "3 epochs did not teach it" in stays.text
    assert learns.status == "partly" and "Every run ended under 1%" in learns.text
    assert "fell in 4 of 4 runs" in learns.text


def test_the_stability_verdict_flips_with_who_diverged(tmp_path):
    sig = evidence.verdict_stability(_tables(tmp_path, True)[0])
    raw = evidence.verdict_stability(_tables(tmp_path, False)[0])
    assert sig.status == "holds"
    assert "sigmoid: none of 4 runs diverged; raw: 2 of 4 runs diverged (2 at lr 0.03)" in sig.text
    assert "sigmoid ended with the lower BCE at 1 of 1 learning rates and the lower MSE at 1 of 1" in sig.text
    assert raw.status == "does not hold"
    assert "sigmoid: 2 of 4 runs diverged (2 at lr 0.03); raw: none of 4 runs diverged" in raw.text
    assert "the lower BCE at 0 of 1" in raw.text and "raw head was the more stable" in raw.text


@pytest.mark.parametrize("sigmoid_wins, status, words", [
    (True, "holds", "sigmoid head was the more stable: no more divergences and its result depended less"),
    (False, "does not hold", "raw head was the more stable: no more divergences and its result depended less"),
])
def test_without_divergences_the_stability_verdict_follows_the_learning_rate_sensitivity(tmp_path, sigmoid_wins,
                                                                                         status, words):
    doc = evidence.load_results(write_results(tmp_path / "r.json", synthetic_results(sigmoid_wins, diverge=False)))
    v = evidence.verdict_stability(evidence.final_table(doc))
    assert v.status == status and words in v.text, v.text
    assert "none of 4 runs diverged; raw: none of 4 runs diverged" in v.text
    assert "How much worse the final result is at the worst learning rate than at the best (BCE, MSE) — sigmoid: +" in v.text


def test_stability_is_compared_only_over_learning_rates_both_heads_tried(tmp_path):
    final, _ = _tables(tmp_path, sigmoid_wins=False)
    # The sigmoid's divergences at lr 0.03 disappear when raw was never trained there.
    v = evidence.verdict_stability(final[~((final["head"] == "raw") & (final["lr"] == 3e-2))])
    assert "Over the 1 learning rates both heads were trained with (0.001)" in v.text
    assert "sigmoid: none of 2 runs diverged; raw: none of 2 runs diverged" in v.text
    assert v.status == "not shown"


def test_when_bce_and_mse_disagree_on_sensitivity_the_verdict_does_not_decide(tmp_path):
    doc = synthetic_results(sigmoid_wins=True, diverge=False)
    for run in doc["runs"]:
        if run["head"] == "sigmoid" and run["lr"] == 3e-2:
            for e in run["epochs"]:
                e["mse"] = 100.0  # the sigmoid's MSE now worsens far more with the rate; its BCE still less
    v = evidence.verdict_stability(evidence.final_table(evidence.load_results(write_results(tmp_path / "r.json", doc))))
    assert v.status == "not shown" and "changes with the measure" in v.text


def test_when_nats_and_ratios_disagree_on_sensitivity_the_verdict_does_not_decide(tmp_path):
    # sigmoid: 70 -> 140 nats (+70, x2.0); raw: 120 -> 200 (+80, x1.67): steadier in ratio, shakier in nats.
    doc = synthetic_results(sigmoid_wins=True, diverge=False)
    for run in doc["runs"]:
        for e in run["epochs"]:
            high = run["lr"] == 3e-2
            e["bce"], e["mse"] = ((70.0, 7.0) if not high else (140.0, 14.0)) if run["head"] == "sigmoid" else \
                ((120.0, 12.0) if not high else (200.0, 20.0))
    v = evidence.verdict_stability(evidence.final_table(evidence.load_results(write_results(tmp_path / "r.json", doc))))
    assert v.status == "not shown" and "sigmoid: +70.0 nats (×2.00), +7.0 (×2.00); raw: +80.0 nats (×1.67)" in v.text


def test_verdicts_say_when_the_results_cannot_decide(tmp_path):
    final, epochs = _tables(tmp_path, True)
    only_sigmoid = final[final["head"] == "sigmoid"]
    assert evidence.verdict_stability(only_sigmoid).status == "not shown"
    assert evidence.verdict_learns_range(epochs[epochs["head"] == "sigmoid"]).status == "not shown"
    assert evidence.verdict_range(final[final["head"] == "raw"]).status == "not shown"


@pytest.mark.parametrize("change, message", [
    (lambda d: d["runs"][0].update(head="tanh"), "not a valid sweep record"),
    (lambda d: d["runs"][0].update(lr=-1), "not a valid sweep record"),
    (lambda d: d["runs"][0]["epochs"][0].update(bce=float("nan")), "epoch record that is not valid"),
    (lambda d: d.update(schema="other/1"), "not a sweep results file"),
    (lambda d: d.pop("config"), "no valid config"),
])
def test_a_bad_results_file_is_one_line_error(tmp_path, change, message):
    doc = synthetic_results(True)
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=message) as info:
        evidence.load_results(path)
    assert "\n" not in str(info.value)


def test_the_data_range_of_tototensor_and_its_grey_levels():
    images = np.array([[[0, 255, 128, 1]]], dtype=np.uint8)
    r = evidence.data_range(images)
    assert (r["min"], r["max"]) == (0.0, 1.0)
    assert r["pct_grey"] == 50.0 and r["pct_grey_of_ink"] == pytest.approx(200 / 3)


# --- the live demos, held to torch computed directly --------------------------------------------

@pytest.mark.parametrize("logit, target", [(20.0, 0.0), (17.0, 0.0), (16.0, 0.0), (0.5, 0.25), (-20.0, 1.0), (30.0, 1.0)])
def test_the_saturation_demo_equals_torch(logit, target):
    p = bce_demo.loss_and_grad(logit, target)
    z = torch.tensor(logit, requires_grad=True)
    loss = F.binary_cross_entropy(torch.sigmoid(z), torch.tensor(target))
    loss.backward()
    z2 = torch.tensor(logit, requires_grad=True)
    loss2 = F.binary_cross_entropy_with_logits(z2, torch.tensor(target))
    loss2.backward()
    assert (p.sigmoid_bce, p.sigmoid_bce_grad) == (loss.item(), z.grad.item())
    assert (p.logits_bce, p.logits_bce_grad) == (loss2.item(), z2.grad.item())
    assert p.prob == torch.sigmoid(torch.tensor(logit)).item()
    assert p.exact == pytest.approx(math.log1p(math.exp(-abs(logit))) + max(logit, 0) - target * logit, rel=1e-12)


def test_at_logit_20_target_0_the_sigmoid_form_loses_its_gradient():
    p = bce_demo.loss_and_grad(20.0, 0.0)
    assert p.prob_is_exactly_one and (p.sigmoid_bce, p.sigmoid_bce_grad) == (100.0, 0.0)
    assert p.logits_bce == pytest.approx(20.0) and p.logits_bce_grad == pytest.approx(1.0)
    v = evidence.verdict_saturation(p, bce_demo.sigmoid_saturation_point())
    assert v.status == "holds" and "exactly 1.0" in v.text and "100 nats with gradient 0" in v.text
    agree = evidence.verdict_saturation(bce_demo.loss_and_grad(0.0, 0.5), 16.6)
    assert agree.status == "not shown" and "agree" in agree.text


def test_the_saturation_point_is_where_float32s_sigmoid_first_returns_one():
    s = bce_demo.sigmoid_saturation_point()
    below = torch.nextafter(torch.tensor(s), torch.tensor(0.0))
    assert torch.sigmoid(torch.tensor(s)) == 1.0 and torch.sigmoid(below) < 1.0
    assert 15 < s < 18  # "about 17" (FACTS.md)


def test_the_loss_curves_equal_torch_elementwise():
    c = bce_demo.loss_curves(0.0, -30, 30, 121)
    z = torch.from_numpy(c["logit"])
    assert np.array_equal(c["sigmoid_bce"], F.binary_cross_entropy(torch.sigmoid(z), torch.zeros_like(z), reduction="none").numpy())
    assert np.array_equal(c["logits_bce"], F.binary_cross_entropy_with_logits(z, torch.zeros_like(z), reduction="none").numpy())
    assert np.allclose(c["logits_bce_grad"], torch.sigmoid(z).numpy(), atol=1e-7)
    assert c["sigmoid_bce_grad"][-1] == 0.0 and c["sigmoid_bce"][-1] == 100.0


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.9])
def test_bce_is_not_a_density_on_grey_levels_and_the_continuous_bernoulli_is(lam):
    d = bce_demo.bce_as_density(lam)
    closed = 0.5 if lam == 0.5 else (2 * lam - 1) / (math.log(lam) - math.log(1 - lam))  # ∫ λ^x (1-λ)^(1-x) dx
    assert d["bce_integral"] == pytest.approx(closed, rel=1e-6)
    assert d["normaliser"] == pytest.approx(1 / closed, rel=1e-6)
    assert d["cb_integral"] == pytest.approx(1.0, abs=1e-6)
    assert d["cb_mean"] == pytest.approx(float(ContinuousBernoulli(probs=torch.tensor(lam, dtype=torch.float64)).mean))
    v = evidence.verdict_probability(d, {"pct_grey_of_ink": 40.0})
    assert v.status == "partly" and "40% of the sample's inked pixels are grey" in v.text
    assert f"{d['bce_integral']:.3f}, not 1" in v.text
    assert evidence.verdict_probability({**d, "bce_integral": 1.0}, {"pct_grey_of_ink": 0.0}).status == "holds"


def test_save_image_writes_clipped_bytes_and_the_verdict_reads_them():
    values = [-0.5, -0.1, 0.0, 0.25, 0.5, 1.0, 1.2]
    written = bce_demo.save_image_roundtrip(values)
    assert written == torch.tensor(values).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).tolist()
    data = {"min": 0.0, "max": 1.0}
    v = evidence.verdict_display(data, dict(zip(values, written)), (20.0, 40.0, 18))
    assert v.status == "holds" and "-0.5, -0.1 as 0, 0" in v.text and "18 finished raw runs, 20.0–40.0%" in v.text
    wrapped = evidence.verdict_display(data, {-0.1: 230, 1.2: 50}, None)
    assert wrapped.status == "does not hold" and "did not simply clip" in wrapped.text

