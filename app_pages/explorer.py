"""Latent explorer: move z and watch the sigmoid and the raw decoder turn it into pixels."""

from __future__ import annotations

import subprocess

import numpy as np
import streamlit as st

from services.decoding import decode_point, encode_mean
from services.display import DISPLAY_MODES
from services.latent_geometry import chi2_quantile
from services.pairing import DEFAULT_MODE, MODES, agreement_line, trained_on
from services.pytorch_verdict import Verdict, bce_verdict
from services.untrusted import literal, redact
from ui import latent_panel, loaders, state
from vae.datasets import DATASETS, get_dataset

VIEWS = {"sigmoid": "Left decoder", "raw": "Right decoder", "both": "Side by side"}


def decoder_label(name: str, other: str) -> str:
    """What the page calls a chosen checkpoint: by its head ("Clamp decoder"), or by its name
    when both sides have the same head."""
    cat = loaders.catalog()
    head, other_head = cat.checkpoints[name].head.name, cat.checkpoints[other].head.name
    return f"{head.capitalize()} decoder" if head != other_head else name


def choose_models() -> tuple[str, str, str]:
    """Dataset and the two checkpoints side by side: the sigmoid VAE and, by default, a raw decoder
    trained on its very encoder (pairing ``same``), or an independently trained raw VAE."""
    cat, pairing = loaders.catalog(), loaders.pairing()
    dataset = st.selectbox("Dataset", cat.datasets(), key="dataset")
    mode = st.radio("Compare", list(MODES), format_func=MODES.get, key="pair", horizontal=True,
                    help="Same encoder: the raw decoder was trained on the sigmoid VAE's frozen encoder, so both "
                         "decode z in one latent space. Independently trained: the questioner's experiment, a "
                         "whole VAE retrained without the sigmoid, with a latent space of its own.") or DEFAULT_MODE
    names = [n for n, c in cat.checkpoints.items() if c.dataset == dataset]
    reference = pairing.reference(dataset, 20) or pairing.reference(dataset, cat.checkpoints[names[0]].config.latent)
    if st.session_state.get("left") not in names:  # first visit, or another dataset
        st.session_state["left"] = reference
    with st.expander("Which checkpoints play the two decoders"):
        left = st.selectbox("Left decoder", names, key="left",
                            help="Any checkpoint can be chosen; the default is the shipped sigmoid model.")
        options = pairing.matches(left, mode)
        if not options:
            st.info("No other decoder shares this checkpoint's encoder yet: train one on the *Train a variant* "
                    "page with 'train only a decoder on this encoder'.")
        options = options or [left]
        if st.session_state.get("right") not in options:  # first visit, or the pairing changed
            st.session_state["right"] = next((n for n in options if cat.checkpoints[n].head.name == "raw"), options[0])
        right = st.selectbox("Right decoder", options, key="right",
                             help="Same encoder: the decoders trained on the left one's encoder. Independently "
                                  "trained: the models of the same latent size with an encoder of their own.")
        for name in dict.fromkeys([left, right]):
            st.text(f"{name}: {trained_on(cat.checkpoints[name])}")  # names from files: plain text
    return dataset, left, right


def _randomize(latent: int) -> None:
    state.set_z(np.random.default_rng().standard_normal(latent))


def _from_digit(name: str, others: list[str], index: int) -> None:
    """z = the digit's encoding under ``name``; each of ``others`` with an encoder of its own starts
    from its own encoding of the digit (z plus the difference), since its z means something else."""
    ckpt = loaders.checkpoint(name)
    x = loaders.sample_floats(ckpt.dataset)[index]
    z = state.snap_z(encode_mean(ckpt, x)[0])
    pairing = loaders.pairing()
    offsets = {o: encode_mean(loaders.checkpoint(o), x)[0] - z for o in others if not pairing.same_encoder([name, o])}
    state.set_z(z, offsets=offsets, anchor=f"#{index}")


def z_buttons(left: str, latent: int, right: str | None = None) -> None:
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
    b4.button("Start from this digit", on_click=_from_digit, args=(left, [right] if right else [], index),
              width="stretch", help="z becomes the digit's posterior mean under the left decoder's encoder; a "
                                    "model with an encoder of its own starts from its own encoding")


@st.fragment
def latent_view(dataset: str, left: str, right: str, view: str, mode: str) -> None:
    """Everything a slider move changes, in one panel; reruns alone so the page chrome is untouched."""
    latent = loaders.checkpoint(left).config.latent
    z = state.get_z(latent)
    sq, limit = float(z @ z), chi2_quantile(latent)
    warning = None
    prior = f"‖z‖² = {sq:.1f}: inside the prior's 99.9% region (χ²({latent}) quantile {limit:.1f})"
    if sq > limit:
        # short: it fills one fixed line (two on a phone) above the images
        warning = (f"‖z‖² = {sq:.1f}, beyond χ²({latent})'s 99.9% quantile {limit:.1f}: far outside the prior, "
                   "where the decoder was barely trained. Expect odd images.")
    shown = {"sigmoid": [left], "raw": [right], "both": [left, right]}[view]
    data_fraction = loaders.data_histogram(dataset)
    columns = []
    for name in shown:
        ckpt = loaders.checkpoint(name)
        offset = state.z_offset(name, latent)  # independent VAEs: this model's own encoding of the digit
        title = None if offset is None else f"{ckpt.head.title}, from its own encoding of {state.z_anchor()}"
        columns.append(latent_panel.column(name, ckpt.head, decode_point(ckpt, z if offset is None else z + offset),
                                           mode, data_fraction, show_logits=len(shown) == 1, title=title))
    latent_panel.show(z, columns, warning, prior=prior,
                      query=state.view_query(z, dataset=dataset, left=left, right=right, view=view, display=mode,
                                             pair=st.session_state.get("pair", DEFAULT_MODE)))


@st.cache_data(show_spinner=False, max_entries=8)
def pytorch_verdict(name: str) -> Verdict:
    """What ``F.binary_cross_entropy`` says about checkpoint ``name``'s reconstruction of the
    first sample digit, asked of PyTorch itself (in a child process: this page runs without torch)."""
    ckpt = loaders.checkpoint(name)
    x = loaders.sample_floats(ckpt.dataset)[0]
    return bce_verdict(ckpt.head.name, decode_point(ckpt, encode_mean(ckpt, x)[0]).pre, x)


def answer(raw: str | None, verdict: Verdict | str | None) -> str:
    """The answer in three short points, with the shipped raw model's measured numbers and, once
    asked, PyTorch's own words (``verdict``: its answer, or why it could not be asked)."""
    sigmoid = "1. **The sigmoid keeps every pixel in [0, 1]**, the range of `ToTensor()` images (and of `save_image`)."
    if raw is None:
        return sigmoid + "\n2. **BCE is a Bernoulli likelihood**: its mean must lie in [0, 1], and PyTorch checks it."
    if isinstance(verdict, Verdict):
        version = verdict.torch_version.split("+")[0]
        said = f"PyTorch {version} says `RuntimeError: {verdict.error}`" if verdict.error else \
            f"PyTorch {version} accepts it"
    else:
        said = "PyTorch " + (verdict or "is being asked ...")
    metrics = loaders.checkpoint(raw).meta.metrics
    outside = 100 * (metrics.get("frac_below_0", 0) + metrics.get("frac_above_1", 0))
    learned = (f"{outside:.0f}% of `{raw}`'s test pixels fall outside [0, 1]" if "frac_below_0" in metrics
               else "the raw decoder below leaves [0, 1]")
    return (sigmoid + "\n2. **BCE is a Bernoulli likelihood: its mean must lie in [0, 1].** "
            f"On the raw decoder's output {said}."
            f"\n3. **Without the sigmoid the network must learn the range:** {learned}.")


def main() -> None:
    st.html("<style>h1 { font-size: 2.2rem !important; }</style>")  # a smaller title: room for the answer
    st.title("Why does the decoder end in a sigmoid?")
    ignored = state.init_from_url({"view": tuple(VIEWS), "display": tuple(DISPLAY_MODES),
                                   "dataset": tuple(DATASETS), "left": tuple(loaders.catalog().checkpoints),
                                   "right": tuple(loaders.catalog().checkpoints), "pair": tuple(MODES)})
    # The first screen (1280x720) carries the answer, the decoder toggle, the sliders and both images;
    # settings and the long explanation follow below. Slots are laid out first, then filled in the
    # order the widgets' values are needed.
    summary, toggle, panel, buttons, settings = st.empty(), st.container(), st.container(), st.container(), \
        st.container()
    with settings:
        st.subheader("Settings", divider="gray")
        dataset, left, right = choose_models()
        mode = st.radio("Show the raw decoder's values with", list(DISPLAY_MODES), format_func=DISPLAY_MODES.get,
                        key="display", horizontal=True,
                        help="st.image itself refuses float images outside [0, 1] unless clamp=True "
                             "('Data is outside [0.0, 1.0] and clamp is not set.'), which clips them.")
        st.caption({
            "clip": "Clipping (what `save_image` and `st.image(clamp=True)` do) maps every negative value to black "
                    "and every value above 1 to white: the image looks clean although the decoder said otherwise.",
            "minmax": "Min-max rescaling stretches whatever range came out onto black..white: any range looks fine.",
            "wrap": "`(x*255).astype(uint8)` wraps around: a slightly negative pixel becomes almost white.",
        }[mode])
    labels = {"sigmoid": decoder_label(left, right), "raw": decoder_label(right, left), "both": VIEWS["both"]}
    view = toggle.segmented_control("Decoder", list(VIEWS), format_func=lambda v: labels[v], key="view", default="both",
                                    required=True, label_visibility="collapsed") or "both"
    if notice := state.ignored_notice(ignored):
        toggle.caption(f"⚠️ {notice}")
    if left != right:
        measured = agreement_line(left, {right: loaders.median_agreement(left, right)})
        toggle.caption(loaders.pairing().note([left, right]) + " " + literal(measured))
    with buttons:
        z_buttons(left, loaders.checkpoint(left).config.latent, right)
        if view == "both":
            st.caption(f"Choose *{labels['sigmoid']}* above to also see its logits and the sigmoid curve that maps "
                       "them into (0, 1).")
    with panel:
        latent_view(dataset, left, right, view, mode)
    with st.expander("The longer explanation"):
        st.markdown(
            "The classic PyTorch VAE decodes with `torch.sigmoid(fc4(h))`. Pixels from `ToTensor()` lie in "
            "**[0, 1]**, and the loss, binary cross-entropy, is the likelihood of a Bernoulli whose mean must be "
            "in [0, 1] too. The sigmoid guarantees that range. Remove it (and train with MSE instead, because BCE "
            "then refuses the outputs) and the network has to *learn* the range: the images still look fine, "
            "because the way they are displayed hides the values that left [0, 1]. The histograms under each "
            "image show them: bars outside the shaded [0, 1] band are pixels the decoder put out of range; the "
            "grey line is how the data's own pixels are spread.")
    # The raw model the summary quotes: the one on screen when it is raw, else the shipped one.
    cat = loaders.catalog()
    raw = cat.checkpoints[right] if cat.checkpoints[right].head.name == "raw" else \
        cat.first(dataset=dataset, head="raw", latent=20) or cat.first(dataset=dataset, head="raw")
    raw_name = cat.name_of(raw) if raw is not None else None
    summary.markdown(answer(raw_name, None))
    if raw_name is not None:  # last: the first visit waits a few seconds for PyTorch, after the images are out
        try:
            verdict: Verdict | str = pytorch_verdict(raw_name)
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            verdict = f"could not be asked ({redact(str(err))})"
        summary.markdown(answer(raw_name, verdict))


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
