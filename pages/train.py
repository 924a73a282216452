"""Train a variant: any head, latent size and dataset, in the background, watched live."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import streamlit as st

from services.catalog import checkpoint_name
from services.jobs import Busy
from ui import loaders
from vae.data import raw_dir
from vae.datasets import DATASETS
from vae.heads import HEADS
from vae.paths import DEFAULT_DATA_DIR, USER_CHECKPOINT_DIR
from vae.train import TrainConfig

LATENTS = (2, 5, 10, 20, 32, 64)


def session_id() -> str:
    return st.session_state.setdefault("session_id", uuid.uuid4().hex[:8])


def start_form() -> None:
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        head = c1.selectbox("Head", list(HEADS), format_func=lambda h: HEADS[h].title, key="train_head")
        latent = c2.selectbox("Latent size", LATENTS, index=LATENTS.index(20), key="train_latent")
        dataset = c3.selectbox("Dataset", DATASETS, key="train_dataset")
        c4, c5, c6 = st.columns(3)
        epochs = c4.number_input("Epochs", 1, 50, 3, key="train_epochs")
        lr = c5.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], value=1e-3,
                              key="train_lr", format_func=lambda v: f"{v:g}")
        name = c6.text_input("Save as", value="", placeholder="e.g. my-raw-z2", key="train_name",
                             help="Defaults to DATASET-HEAD-zLATENT-EPOCHSep")
        data_dir = st.text_input("Data folder", value=str(DEFAULT_DATA_DIR), key="train_data_dir",
                                 help="Holds MNIST/raw/ or FashionMNIST/raw/ (torchvision's layout); "
                                      "downloaded there when missing and a network is available.")
        submitted = st.form_submit_button("Start training", type="primary")
    if not submitted:
        return
    try:
        name = checkpoint_name(name or f"{dataset}-{head}-z{latent}-{epochs}ep")
        cfg = TrainConfig(head=head, latent=latent, epochs=int(epochs), lr=float(lr), dataset=dataset)
        loaders.runner().start(cfg, USER_CHECKPOINT_DIR / f"{name}.safetensors", data_dir, owner=session_id())
    except Busy as err:
        st.warning(str(err))
    except ValueError as err:
        st.error(str(err))


@st.fragment(run_every=1.0)
def job_status() -> None:
    """Polls the shared runner once a second: progress, live losses, the outcome."""
    status = loaders.runner().status()
    if status.state == "idle":
        st.caption("No training job has run on this server yet.")
        return
    cfg = status.config
    mine = " (yours)" if status.owner == session_id() else " (started by another session)"
    st.markdown(f"**{cfg.head}** head, latent {cfg.latent}, {cfg.dataset}, {cfg.epochs} epochs, lr {cfg.lr:g} "
                f"→ `{status.out.name}`{mine}")
    p = status.progress
    if status.active:
        frac = 0.0 if p is None else ((p.epoch - 1) + p.step / p.steps_per_epoch) / p.epochs
        st.progress(frac, text=f"{status.message} · {time.time() - status.started:.0f} s")
        if st.button("Cancel", key="train_cancel"):
            loaders.runner().cancel()
    if p is not None:
        points = [{"epoch": h["epoch"], "loss": h["train_loss"], "curve": "train"} for h in status.history]
        points += [{"epoch": h["epoch"], "loss": h["test_loss"], "curve": "test"} for h in status.history]
        if status.active:
            points.append({"epoch": p.epoch - 1 + p.step / p.steps_per_epoch, "loss": p.train_loss,
                           "curve": "train (running)"})
        st.line_chart(pd.DataFrame(points), x="epoch", y="loss", color="curve", height=260)
    if status.state == "done":
        st.success(f"Finished: {status.out.name} is now selectable on every page.")
        if st.session_state.get("train_refreshed") != status.finished:
            st.session_state["train_refreshed"] = status.finished
            loaders.refresh_catalog()
    elif status.state == "failed":
        st.error(status.error)
    elif status.state == "cancelled":
        st.info(status.message)
        loaders.refresh_catalog()


def main() -> None:
    st.title("Train a variant")
    st.markdown(
        "Train your own decoder: pick the head, the latent size and the dataset. Training runs in the background "
        "on this server (one job at a time, shared by all visitors) and writes a checkpoint after every epoch; "
        "the finished model appears on the other pages. An epoch of MNIST takes seconds to a minute on a CPU. "
        "Try the raw head with a large learning rate to see what a run without the sigmoid's guard rail can do.")
    with st.expander("Where the training data comes from"):
        st.markdown("Training needs the full dataset (the app itself only ships a small sample). "
                    "Without a network, put the four IDX files (`.gz` is fine) here:")
        for dataset in DATASETS:
            st.code(str(raw_dir(dataset, DEFAULT_DATA_DIR)), language="text")
        st.markdown("With a network they are downloaded there automatically by torchvision.")
    start_form()
    job_status()


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
