"""The answers, tested: each claim the question's answers make, checked against real runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from services import bce_demo, evidence
from ui import evidence_figures as figs
from ui import loaders, state

RESULT_LABELS = {"whole": "whole VAE retrained per head (the questioner's experiment)",
                 "decoder-only": "decoder only, on the shipped sigmoid model's frozen encoder"}
# Not st.error for "does not hold": a refuted claim is a finding, not a failure of the page. Emoji, not
# Material icon names: those make the browser fetch from Google's font host (see app.py).
_BOX = {"holds": (st.success, "✅"), "does not hold": (st.warning, "❌"),
        "partly": (st.warning, "⚖️"), "not shown": (st.info, "❔")}
DISPLAY_VALUES = [-0.5, -0.1, 0.0, 0.25, 0.5, 1.0, 1.2, 1.5]


@st.cache_data(show_spinner="Reading the sweep results ...", max_entries=8)
def load(path: str, mtime: float) -> dict:
    """A results file, cached until it changes (``mtime``)."""
    return evidence.load_results(path)


@st.cache_data(show_spinner=False)
def sample_range() -> dict:
    return evidence.data_range(loaders.sample("mnist").images)


def shipped_results() -> dict[str, dict]:
    """The shipped results files that exist, are valid and hold runs; a broken one is reported, not fatal."""
    found = {}
    for key, path in evidence.SHIPPED.items():
        if Path(path).is_file():
            try:
                doc = load(str(path), Path(path).stat().st_mtime)
            except evidence.ResultsError as err:
                st.text(f"Skipped: {err}")
                continue
            if doc["runs"]:  # a sweep just started has written its file, and no run yet
                found[key] = doc
    return found


def verdict(v: evidence.Verdict) -> None:
    """A verdict box; its text is built from validated numbers and known head names only."""
    box, icon = _BOX[v.status]
    box(f"**Verdict: {v.status}.** {v.text}", icon=icon)


def claim(number: int, text: str, who: str) -> None:
    """A step's heading: the claim, quoted as the answer wrote it (or named), and whose it is."""
    st.subheader(f"{number}. {text}")
    st.caption(who)


def step_range(final, n_test: int | None) -> None:
    claim(1, "“sigmoid forces the output to the range [0, 1]”", "the accepted answer (Sandro H)")
    data = sample_range()
    st.markdown(f"`ToTensor()` divides bytes by 255: the shipped MNIST sample spans **{data['min']:g} … "
                f"{data['max']:g}**. Each point below is one training run, its decoder scored on "
                f"{n_test or 'the'} test images (z = posterior mean).")
    st.plotly_chart(figs.out_of_range_by_head(final), key="answers_range")
    verdict(evidence.verdict_range(final))


def step_learn(final, epochs) -> None:
    claim(2, "“If you remove the sigmoid, the NN will have to learn that all the outputs should be in the range "
             "[0, 1]”", "the accepted answer")
    st.plotly_chart(figs.range_over_epochs(epochs, "raw"), key="answers_learn")
    verdict(evidence.verdict_learns_range(epochs, "raw"))


def step_stability(final, epochs) -> None:
    claim(3, "“The sigmoid might help making the learning process more stable”", "the accepted answer")
    table = evidence.by_head_and_lr(final)
    names = {"bce": "BCE (clipped pixels)", "mse": "MSE"}
    metric = st.segmented_control("Yardstick", list(names), default="bce", required=True, key="answers_metric",
                                  format_func=lambda m: names[m])
    st.plotly_chart(figs.metric_vs_lr(table, metric or "bce"), key="answers_lr")
    st.caption("Both yardsticks score every head's pixels the same way, whatever it was trained with; BCE is the "
               "sigmoid head's own loss and MSE the raw head's, so look at both. Runs that diverged have no final "
               "value and are counted below.")
    st.dataframe(figs.divergence_table(table), hide_index=True, key="answers_divergence")
    st.plotly_chart(figs.grad_norm_vs_lr(table), key="answers_grad")
    verdict(evidence.verdict_stability(final, "sigmoid", "raw"))


def step_probability() -> None:
    claim(4, "“it'll convert the results into a probability, expressed as a real number between 0 and 1”",
          "the second answer (Jim J)")
    st.markdown("A Bernoulli's mean is a probability, and BCE is its negative log-likelihood — for targets that are "
                "0 or 1. Read as a likelihood of a grey level x ∈ [0, 1], exp(−BCE) should integrate to 1 over x. "
                "PyTorch integrates it below for a λ you choose.")
    lam = st.select_slider("λ = sigmoid(logit)", options=[0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], value=0.9,
                           key="answers_lambda")
    density = bce_demo.bce_as_density(lam)
    c1, c2, c3 = st.columns(3)
    c1.metric("∫ exp(−BCE(λ, x)) dx over [0, 1]", f"{density['bce_integral']:.4f}")
    c2.metric("continuous-Bernoulli C(λ)", f"{density['normaliser']:.4f}")
    c3.metric("∫ C(λ)·exp(−BCE) dx", f"{density['cb_integral']:.4f}")
    verdict(evidence.verdict_probability(density, sample_range()))


def step_display(final) -> None:
    claim(5, "“torchvision.utils.save_image() also takes tensor whose pixel value range from 0 to 1”",
          "the third answer (Wade Wang)")
    st.markdown("The data are in [0, 1], and so is what `save_image` can show. Below, `torchvision.utils.save_image` "
                "writes a PNG of a few values in and out of that range, and the bytes are read back.")
    written = dict(zip(DISPLAY_VALUES, bce_demo.save_image_roundtrip(DISPLAY_VALUES)))
    st.dataframe({"value": list(written), "byte save_image wrote": list(written.values())}, hide_index=True,
                 key="answers_save_image")
    verdict(evidence.verdict_display(sample_range(), written, evidence.pct_out_quantiles(final, "raw")))
    z = state.format_z(np.zeros(20))
    c1, c2 = st.columns(2)
    c1.link_button("Open the raw decoder, clipped as save_image does", f"./?z={z}&view=raw&display=clip",
                   width="stretch")
    c2.link_button("The same values wrapped to uint8 instead", f"./?z={z}&view=raw&display=wrap", width="stretch")
    st.caption("Each link opens the Latent explorer with that view (z = 0): compare the clipped image with the "
               "histogram of the values underneath.")


def step_saturation() -> None:
    claim(6, "Where the sigmoid lives: in the model, or inside the loss?", "numerical stability, which no answer mentions")
    saturation = bce_demo.sigmoid_saturation_point()
    st.markdown("The classic example applies `torch.sigmoid` in the decoder and `F.binary_cross_entropy` to its output. "
                "`F.binary_cross_entropy_with_logits` takes the logit and does both in one stable formula. In float32, "
                f"`torch.sigmoid(z)` is exactly 1.0 for every z ≥ {saturation:.4f}, and BCE clamps log 0 to −100.")
    c1, c2 = st.columns(2)
    logit = c1.slider("logit z", -30.0, 30.0, 20.0, 0.5, key="answers_logit")
    target = c2.select_slider("target pixel x", options=[0.0, 0.25, 0.5, 0.75, 1.0], value=0.0, key="answers_target")
    point = bce_demo.loss_and_grad(logit, target)
    st.dataframe({
        "form": ["F.binary_cross_entropy(torch.sigmoid(z), x)", "F.binary_cross_entropy_with_logits(z, x)",
                 "exact, float64"],
        "loss (nats)": [point.sigmoid_bce, point.logits_bce, point.exact],
        "d loss / d z": [point.sigmoid_bce_grad, point.logits_bce_grad, point.exact_grad],
    }, hide_index=True, key="answers_point")
    st.plotly_chart(figs.saturation_curves(bce_demo.loss_curves(target), logit, target), key="answers_curves")
    verdict(evidence.verdict_saturation(point, saturation))


def main() -> None:
    st.title("The answers, tested")
    st.markdown("The question's three answers make claims. Below, each claim meets evidence: a sweep of real "
                "training runs shipped with the app, or a computation PyTorch does now. Every verdict is computed "
                "from that evidence.")
    results = shipped_results()
    if not results:
        st.warning("No sweep results found in results/: run `python -m vae.sweep` (see the README).")
    else:
        key = st.radio("Results", list(results), format_func=RESULT_LABELS.get, horizontal=True, key="answers_results")
        doc = results[key]
        final, epochs = evidence.final_table(doc), evidence.epoch_table(doc)
        cfg = doc["config"]
        st.caption(f"{evidence.run_count_sentence(final)}; {cfg['epochs']} epochs each on {doc['n_train'] or '?'} "
                   f"{cfg['dataset']} training images, latent {cfg['latent']}, Adam, batch {cfg['batch_size']}"
                   + ("; only the decoder trained, on the frozen encoder of the shipped sigmoid VAE." if doc["decoder_only"]
                      else "; each run a whole VAE (encoder and decoder) from scratch."))
        step_range(final, doc["n_test"])
        step_learn(final, epochs)
        step_stability(final, epochs)
    loaders.torch_version()  # the steps below are live PyTorch computations
    step_probability()
    step_display(evidence.final_table(results["whole"]) if "whole" in results else evidence.final_table({"runs": []}))
    step_saturation()


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it runs nothing
    main()
