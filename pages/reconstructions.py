"""Reconstructions and likelihoods: one digit through every head, scored the same ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from services.decoding import reconstruct_pixels
from services.display import as_image, out_of_range_overlay
from services.scoring import reconstruct
from ui import digits, figures, gallery, loaders


@st.cache_data(show_spinner="Reconstructing the sample with every head ...", max_entries=16)
def sample_outputs(name: str) -> np.ndarray:
    """All output values of checkpoint ``name`` on its dataset's sample (cached per server)."""
    ckpt = loaders.checkpoint(name)
    return reconstruct_pixels(ckpt, loaders.sample_floats(ckpt.dataset))


def main() -> None:
    st.title("Reconstructions and likelihoods")
    st.markdown(
        "Encode a digit, decode it at its posterior mean, and compare heads with the **same** yardsticks: "
        "BCE and MSE of the pixels. The heads' own training losses "
        "are different likelihood families (a Gaussian density is not a Bernoulli probability), so their "
        "numbers cannot be compared directly. Feed the raw decoder's output to `F.binary_cross_entropy` and "
        "PyTorch refuses it: that error is the loss telling you the sigmoid was part of the model.")
    cat = loaders.catalog()
    dataset = st.selectbox("Dataset", cat.datasets(), key="recon_dataset")
    models = {n: c for n, c in cat.checkpoints.items() if c.dataset == dataset and c.config.latent > 2}
    x, where = digits.pick_digit(dataset)
    if x is None:
        st.info(f"No digit yet: {where}.")
        return

    loaders.torch_version()  # the scores below are PyTorch's own losses
    results = {name: reconstruct(ckpt, x) for name, ckpt in models.items()}
    images = [(as_image(x.ravel()), f"input: {where}")]
    for name, (out, _scores) in results.items():
        bounded = models[name].head.bounded
        images.append((as_image(out.pixels) if bounded else out_of_range_overlay(out.pixels),
                       name + ("" if bounded else " (blue < 0, red > 1)")))
    gallery.image_rows(images, per_row=6)

    # PyTorch's verdict first, whole: it is the page's point. (A continuous-Bernoulli column with
    # lambda = the clipped pixels ranked the clamp head best, since its pixels stuck at exactly 0 or 1
    # get densities near the limit: a number that misleads more than it tells.)
    table = pd.DataFrame([{
        "checkpoint": name, "F.binary_cross_entropy(output, x)":
            "accepted" if s.bce_error is None else f"RuntimeError: {s.bce_error}",
        "head": models[name].head.name, "BCE (nats)": s.bce, "MSE": s.mse, "KL (nats)": s.kl,
        "pixels < 0": s.below, "pixels > 1": s.above,
    } for name, (_, s) in results.items()])
    st.dataframe(table, hide_index=True, key="recon_table",
                 column_config={"F.binary_cross_entropy(output, x)": st.column_config.TextColumn(width="large"),
                                **{c: st.column_config.NumberColumn(format="%.2f")
                                   for c in ("BCE (nats)", "MSE", "KL (nats)")}})
    for name, (_, s) in results.items():
        if s.bce_error:
            why = {"raw": "its outputs are unbounded, so some fall outside [0, 1].",
                   "logits": "by design: its outputs are logits, and it is trained with "
                             "`F.binary_cross_entropy_with_logits`, which applies the sigmoid inside the loss."}
            st.markdown(f"`{name}` fed to `F.binary_cross_entropy` — {why.get(models[name].head.name, '')}")
            st.code(f"RuntimeError: {s.bce_error}", language="text")
    st.caption("BCE is computed on pixels clipped into [0, 1] (otherwise it could not be computed at all for the "
               "raw head).")

    st.subheader("Every output value on the whole sample")
    st.plotly_chart(figures.overlaid_histograms(
        {n: sample_outputs(n) for n in models}, {n: c.head.name for n, c in models.items()},
        loaders.data_histogram(dataset),
        f"Output values of each model over {len(loaders.sample(dataset))} sample images, against the data"),
        key="recon_overlay", config=figures.CHART_CONFIG)


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
