"""Latent explorer: move z and watch the sigmoid and the raw decoder turn it into pixels."""

from __future__ import annotations

import numpy as np
import streamlit as st

from services.decoding import decode_point, encode_mean
from services.display import DISPLAY_MODES
from services.latent_geometry import chi2_quantile
from ui import latent_panel, loaders, state
from vae.datasets import get_dataset

VIEWS = {"sigmoid": "Sigmoid decoder", "raw": "Raw decoder", "both": "Side by side"}


def choose_models() -> tuple[str, str, str]:
    """Dataset and the two checkpoints playing 'sigmoid decoder' and 'raw decoder'."""
    cat = loaders.catalog()
    dataset = st.selectbox("Dataset", cat.datasets(), key="dataset")
    names = [n for n, c in cat.checkpoints.items() if c.dataset == dataset]
    default_left = cat.name_of(cat.first(dataset=dataset, head="sigmoid", latent=20) or cat.select(dataset=dataset)[0])
    with st.expander("Which checkpoints play the two decoders"):
        left = st.selectbox("Sigmoid decoder", names, index=names.index(default_left), key="left",
                            help="Any checkpoint can be chosen; the default is the shipped sigmoid model.")
        latent = cat.checkpoints[left].config.latent
        same_latent = [n for n in names if cat.checkpoints[n].config.latent == latent]
        default_right = next((n for n in same_latent if cat.checkpoints[n].head.name == "raw"), same_latent[0])
        right = st.selectbox("Raw decoder", same_latent, index=same_latent.index(default_right), key="right",
                             help="Only checkpoints with the same latent size can decode the same z.")
    return dataset, left, right


def _randomize(latent: int) -> None:
    state.set_z(np.random.default_rng().standard_normal(latent))


def _from_digit(name: str, index: int) -> None:
    ckpt = loaders.checkpoint(name)
    state.set_z(encode_mean(ckpt, loaders.sample_floats(ckpt.dataset)[index])[0])


def z_buttons(left: str, latent: int) -> None:
    """Random / reset / start-from-a-digit. Outside the fragment: rare clicks may rerun the page,
    and the 2,000-option digit list stays off the slider path."""
    ckpt = loaders.checkpoint(left)
    split = loaders.sample(ckpt.dataset)
    b1, b2, b3, b4 = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
    b1.button("Random z ~ N(0, I)", on_click=_randomize, args=(latent,), width="stretch")
    b2.button("Reset to 0", on_click=state.set_z, args=(np.zeros(latent),), width="stretch")
    names = get_dataset(ckpt.dataset).label_names
    index = b3.selectbox("Sample digit", range(len(split)), key="digit_index",
                         format_func=lambda i: f"#{i} ({names[int(split.labels[i])]})")
    b4.button("Start from this digit", on_click=_from_digit, args=(left, index), width="stretch",
              help="z becomes the digit's posterior mean under the sigmoid decoder's encoder")


@st.fragment
def latent_view(dataset: str, left: str, right: str, view: str, mode: str) -> None:
    """Everything a slider move changes, in one panel; reruns alone so the page chrome is untouched."""
    latent = loaders.checkpoint(left).config.latent
    z = state.get_z(latent)
    sq, limit = float(z @ z), chi2_quantile(latent)
    warning = None
    if sq > limit:
        warning = (f"‖z‖² = {sq:.1f} is beyond the 99.9% quantile of χ²({latent}) = {limit:.1f}: this z is far "
                   "outside the prior, where training almost never sent the decoder. Expect odd images and, for "
                   "the raw decoder, more values outside [0, 1].")
    shown = {"sigmoid": [left], "raw": [right], "both": [left, right]}[view]
    data_fraction = loaders.data_histogram(dataset)
    columns = []
    for name in shown:
        ckpt = loaders.checkpoint(name)
        columns.append(latent_panel.column(name, ckpt.head, decode_point(ckpt, z), mode, data_fraction,
                                           show_logits=len(shown) == 1))
    latent_panel.show(z, columns, warning,
                      query=state.view_query(z, dataset=dataset, left=left, right=right, view=view, display=mode))


def main() -> None:
    st.title("Why does the decoder end in a sigmoid?")
    st.markdown(
        "The classic PyTorch VAE decodes with `torch.sigmoid(fc4(h))`. Pixels from `ToTensor()` lie in "
        "**[0, 1]**, and the loss, binary cross-entropy, is the likelihood of a Bernoulli whose mean must be "
        "in [0, 1] too. The sigmoid guarantees that range. Remove it (and train with MSE instead, because BCE "
        "then refuses the outputs) and the network has to *learn* the range: the images still look fine, "
        "because the way they are displayed hides the values that left [0, 1]. The histograms below show them.")
    state.init_from_url({"view": tuple(VIEWS), "display": tuple(DISPLAY_MODES),
                         "dataset": ("mnist", "fashion-mnist"), "left": tuple(loaders.catalog().checkpoints),
                         "right": tuple(loaders.catalog().checkpoints)})
    dataset, left, right = choose_models()
    c1, c2 = st.columns([2, 3])
    view = c1.segmented_control("Decoder", list(VIEWS), format_func=VIEWS.get, key="view", default="both",
                                required=True)
    mode = c2.radio("Show the raw decoder's values with", list(DISPLAY_MODES), format_func=DISPLAY_MODES.get,
                    key="display", horizontal=True,
                    help="st.image itself refuses float images outside [0, 1] unless clamp=True "
                         "('Data is outside [0.0, 1.0] and clamp is not set.'), which clips them.")
    if mode != "clip" or view != "sigmoid":
        st.caption({
            "clip": "Clipping (what `save_image` and `st.image(clamp=True)` do) maps every negative value to black "
                    "and every value above 1 to white: the image looks clean although the decoder said otherwise.",
            "minmax": "Min-max rescaling stretches whatever range came out onto black..white: any range looks fine.",
            "wrap": "`(x*255).astype(uint8)` wraps around: a slightly negative pixel becomes almost white.",
        }[mode])
    if view == "both":
        st.caption("Choose *Sigmoid decoder* above to also see its logits and the sigmoid curve that maps them "
                   "into (0, 1).")
    z_buttons(left, loaders.checkpoint(left).config.latent)
    latent_view(dataset, left, right, view, mode)


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
