"""Reconstructions and likelihoods: one digit through every head, scored the same ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from services.decoding import reconstruct_pixels
from services.display import as_image, out_of_range_overlay
from services.pairing import DEFAULT_MODE, MODES
from services.scoring import reconstruct
from ui import digits, figures, gallery, loaders
from vae.heads import HEADS


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
    pair = st.radio("Compare", list(MODES), format_func=MODES.get, key="recon_pair", horizontal=True,
                    help="Same encoder: one z per digit, decoded by every head's decoder trained on the sigmoid "
                         "VAE's frozen encoder. Independently trained: each head's whole VAE encodes the digit "
                         "itself.") or DEFAULT_MODE
    pairing = loaders.pairing()
    reference = pairing.reference(dataset, 20)
    models = {n: cat.checkpoints[n] for n in (pairing.lineup(reference, list(HEADS), pair) if reference else [])}
    if models:
        st.caption(pairing.note(list(models)))
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
    gallery.image_rows(images, key="recon_images", per_row=6)

    # The table holds numbers and a short verdict that fits its column; PyTorch's words follow whole,
    # once per distinct error, with the models it refused. (A continuous-Bernoulli column with lambda =
    # the clipped pixels ranked the clamp head best, since its pixels stuck at exactly 0 or 1 get
    # densities near the limit: a number that misleads more than it tells.)
    verdict = "F.binary_cross_entropy(output, x)"
    table = pd.DataFrame([{
        "checkpoint": name, "head": models[name].head.name,
        verdict: "accepted" if s.bce_error is None else "RuntimeError (below)",
        "BCE (nats)": s.bce, "MSE": s.mse, "KL (nats)": s.kl, "pixels < 0": s.below, "pixels > 1": s.above,
    } for name, (_, s) in results.items()])
    st.dataframe(table, hide_index=True, key="recon_table",
                 column_config={c: st.column_config.NumberColumn(format="%.2f")
                                for c in ("BCE (nats)", "MSE", "KL (nats)")})
    why = {"raw": "unbounded outputs, some outside [0, 1]",
           "logits": "by design: logits, trained with `F.binary_cross_entropy_with_logits`, which applies the "
                     "sigmoid inside the loss"}
    refused: dict[str, list[str]] = {}
    for name, (_, s) in results.items():
        if s.bce_error:
            refused.setdefault(s.bce_error, []).append(name)
    for error, names in refused.items():
        st.markdown("`F.binary_cross_entropy(output, x)` refuses the outputs of " + "; ".join(
            f"`{n}` ({why.get(models[n].head.name, models[n].head.name)})" for n in names) + ":")
        st.code(f"RuntimeError: {error}", language="text")
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
