"""Activation comparison: the same z through every output head, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from services.decoding import decode_point
from services.display import as_image, out_of_range_overlay
from ui import figures, loaders, state


def metrics_table(models: dict) -> pd.DataFrame:
    """Each checkpoint's test metrics as recorded in its metadata."""
    rows = []
    for name, ckpt in models.items():
        m, meta = ckpt.meta.get("metrics") or {}, ckpt.meta
        rows.append({
            "checkpoint": name, "head": ckpt.head.name, "likelihood": ckpt.head.likelihood,
            "-ELBO (nats)": m.get("neg_elbo"), "-ELBO, z = μ": m.get("neg_elbo_mean_z"), "KL": m.get("kl"),
            "BCE": m.get("bce"), "MSE": m.get("mse"),
            "% < 0": 100 * m["frac_below_0"] if "frac_below_0" in m else None,
            "% > 1": 100 * m["frac_above_1"] if "frac_above_1" in m else None,
            "epochs": meta.get("epochs"), "train s": meta.get("train_seconds"),
        })
    return pd.DataFrame(rows)


def main() -> None:
    st.title("Activation comparison")
    st.markdown(
        "Five ways to end the decoder, each trained with its own likelihood: **sigmoid** + Bernoulli (the classic), "
        "**raw** identity + Gaussian/MSE (the sigmoid removed), **logits** + BCE-with-logits (the sigmoid moved "
        "into the loss, numerically stable), **continuous Bernoulli** (the normalised likelihood for values in "
        "[0, 1]) and a hard **clamp** (the range without the sigmoid's gradient). Below, all of them decode the "
        "same z as the Latent explorer.")
    cat = loaders.catalog()
    latent = 20
    models = {n: c for n, c in cat.checkpoints.items() if c.dataset == "mnist" and c.config.latent == latent}
    z = state.get_z(latent)
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.caption(f"z = ({state.format_z(z)}); move it on the Latent explorer page.")
    if c2.button("Random z", use_container_width=True):
        z = np.random.default_rng().standard_normal(latent).clip(-state.Z_LIMIT, state.Z_LIMIT)
        state.set_z(z)

    outputs = {name: decode_point(ckpt, z) for name, ckpt in models.items()}
    for col, (name, out) in zip(st.columns(len(outputs)), outputs.items()):
        head = models[name].head
        col.image(as_image(out.pixels) if head.bounded else out_of_range_overlay(out.pixels), width=150, output_format="PNG",
                  caption=f"{head.name}: {out.below} < 0, {out.above} > 1")
    st.plotly_chart(figures.overlaid_histograms({models[n].head.name: o.pixels for n, o in outputs.items()},
                                                loaders.data_histogram("mnist"), "Output values at this z"),
                    key="heads_overlay")

    st.subheader("Test-set metrics from each checkpoint")
    st.dataframe(metrics_table(models), hide_index=True, key="heads_metrics",
                 column_config={c: st.column_config.NumberColumn(format="%.2f")
                                for c in ("-ELBO (nats)", "-ELBO, z = μ", "KL", "BCE", "MSE", "% < 0", "% > 1", "train s")})
    st.caption("Per test image (10,000 MNIST test digits), z sampled once for -ELBO. The -ELBO of different "
               "likelihood families are not comparable (Gaussian and continuous-Bernoulli densities can even be "
               "negative); BCE and MSE score every head's pixels the same way.")
    st.plotly_chart(figures.loss_curves({n: c.meta.get("history", []) for n, c in models.items()}),
                    key="heads_curves")
    st.plotly_chart(figures.activation_curves(), key="heads_activations")
    st.caption("The raw and logits heads are both the identity on the way out; the logits head's sigmoid is "
               "applied inside its loss and again for display. The continuous Bernoulli's curve is its mean, "
               "which is flatter than λ = sigmoid(logit).")


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
