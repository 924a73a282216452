"""Activation comparison: the same z through every output head, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from services.decoding import decode_point
from services.display import as_image, out_of_range_overlay
from services.pairing import DEFAULT_MODE, MODES, agreement_line
from services.untrusted import literal
from ui import figures, gallery, loaders, state
from vae.heads import HEADS


def metrics_table(models: dict) -> pd.DataFrame:
    """Each checkpoint's test metrics as recorded in its metadata."""
    rows = []
    for name, ckpt in models.items():
        m, meta = ckpt.meta.metrics, ckpt.meta
        rows.append({
            "checkpoint": name, "head": ckpt.head.name, "likelihood": ckpt.head.likelihood,
            "-ELBO (nats)": m.get("neg_elbo"), "-ELBO, z = μ": m.get("neg_elbo_mean_z"), "KL": m.get("kl"),
            "BCE": m.get("bce"), "MSE": m.get("mse"),
            "% < 0": 100 * m["frac_below_0"] if "frac_below_0" in m else None,
            "% > 1": 100 * m["frac_above_1"] if "frac_above_1" in m else None,
            "epochs": meta.epochs, "train s": meta.train_seconds,
        })
    return pd.DataFrame(rows)


def random_z(latent: int) -> None:
    """'Random z': a new shared point, drawn from the prior (clipped to the sliders' range)."""
    state.set_z(np.random.default_rng().standard_normal(latent).clip(-state.Z_LIMIT, state.Z_LIMIT))


def main() -> None:
    st.title("Activation comparison")
    st.markdown(
        "Five ways to end the decoder, each trained with its own likelihood: **sigmoid** + Bernoulli (the classic), "
        "**raw** identity + Gaussian/MSE (the sigmoid removed), **logits** + BCE-with-logits (the sigmoid moved "
        "into the loss, numerically stable), **continuous Bernoulli** (the normalised likelihood for values in "
        "[0, 1]) and a hard **clamp** (the range without the sigmoid's gradient). Below, all of them decode the "
        "same z as the Latent explorer.")
    cat, pairing = loaders.catalog(), loaders.pairing()
    latent = 20
    mode = st.radio("Compare", list(MODES), format_func=MODES.get, key="heads_pair", horizontal=True,
                    help="Same encoder: every decoder was trained on the sigmoid VAE's frozen encoder. "
                         "Independently trained: each head's whole VAE, with a latent space of its own.") or DEFAULT_MODE
    reference = pairing.reference("mnist", latent)
    if reference is None:
        st.warning(f"No MNIST checkpoint of latent size {latent} found; train one on the 'Train a variant' page.")
        return
    models = {n: cat.checkpoints[n] for n in pairing.lineup(reference, list(HEADS), mode)}
    others = {n: loaders.median_agreement(reference, n) for n in models if n != reference}
    st.caption(pairing.note(list(models)) + (" " + literal(agreement_line(reference, others)) if others else ""))
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    # A callback: the new z is set before this run reads it, so the caption shows the z decoded below.
    c2.button("Random z", on_click=random_z, args=(latent,), width="stretch")
    z = state.get_z(latent)
    c1.caption(f"z = ({state.format_z(z)}); move it on the Latent explorer page.")

    outputs = {name: decode_point(ckpt, z) for name, ckpt in models.items()}
    gallery.image_rows([(as_image(out.pixels) if models[name].head.bounded else out_of_range_overlay(out.pixels),
                         f"{name}: {out.below} < 0, {out.above} > 1") for name, out in outputs.items()],
                       key="heads_images")
    st.plotly_chart(figures.overlaid_histograms({n: o.pixels for n, o in outputs.items()},
                                                {n: models[n].head.name for n in outputs},
                                                loaders.data_histogram("mnist"), "Output values at this z"),
                    key="heads_overlay", config=figures.CHART_CONFIG)

    st.subheader("Test-set metrics from each checkpoint")
    st.dataframe(metrics_table(models), hide_index=True, key="heads_metrics",
                 column_config={c: st.column_config.NumberColumn(format="%.2f")
                                for c in ("-ELBO (nats)", "-ELBO, z = μ", "KL", "BCE", "MSE", "% < 0", "% > 1", "train s")})
    st.caption("Per test image (10,000 MNIST test digits), z sampled once for -ELBO. The -ELBO of different "
               "likelihood families are not comparable (Gaussian and continuous-Bernoulli densities can even be "
               "negative); BCE and MSE score every head's pixels the same way.")
    st.plotly_chart(figures.loss_curves({n: list(c.meta.history) for n, c in models.items()},
                                        {n: c.head.name for n, c in models.items()}),
                    key="heads_curves", config=figures.CHART_CONFIG)
    st.plotly_chart(figures.activation_curves(), key="heads_activations", config=figures.CHART_CONFIG)
    st.caption("The raw and logits heads both output t itself; the logits head's sigmoid is applied inside its "
               "loss and again for display, so its curve is the sigmoid's (dashed, on top). The continuous "
               "Bernoulli's curve is its mean, which is flatter than λ = sigmoid(t). Only the raw head leaves the "
               "shaded [0, 1] band.")


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
