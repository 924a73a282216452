"""Train a variant: any head, latent size and dataset, in the background, watched live."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from services.deployment import read_only
from services.jobs import Busy, JobStatus, NotYourJob, start_training
from services.untrusted import public
from ui import figures, loaders
from ui.session import visitor
from vae import paths
from vae.data import RAW_FILES, raw_dir, raw_files_present
from vae.datasets import DATASETS
from vae.heads import HEADS

LATENTS = (2, 5, 10, 20, 32, 64)


def data_section() -> None:
    """Which dataset files the server has; for missing ones, what the operator must do.

    The data folder is the operator's (VAE_DATA_DIR), never a visitor's choice, and its place on
    the server is not shown: only the layout inside it."""
    with st.expander("Where the training data comes from", expanded=False):
        st.markdown("Training needs the full dataset (the app itself only ships a small sample). It is read "
                    "from the server's data folder, which the operator sets (`VAE_DATA_DIR`, see the README).")
        rows = []
        for name in DATASETS:
            present = raw_files_present(name, paths.DEFAULT_DATA_DIR)
            folder = raw_dir(name, ".").as_posix().removeprefix("./")
            rows.append({"dataset": name, "folder in the data folder": folder + "/",
                         "files present": f"{sum(present.values())} of {len(present)}",
                         "missing": ", ".join(f for f, ok in present.items() if not ok) or "-"})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="train_data_files")
        if any(r["missing"] != "-" for r in rows):
            st.caption("For a missing dataset the operator puts its four IDX files (" + ", ".join(RAW_FILES) +
                       "; `.gz` is fine) into that folder inside the data folder, or lets the server download "
                       "them once with a network (a training run tries).")


def start_form() -> None:
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        head = c1.selectbox("Head", list(HEADS), format_func=lambda h: HEADS[h].title, key="train_head")
        latent = c2.selectbox("Latent size", LATENTS, index=LATENTS.index(20), key="train_latent")
        dataset = c3.selectbox("Dataset", list(DATASETS), key="train_dataset")
        c4, c5, c6 = st.columns(3)
        epochs = c4.number_input("Epochs", 1, 50, 3, key="train_epochs")
        lr = c5.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], value=1e-3,
                              key="train_lr", format_func=lambda v: f"{v:g}")
        name = c6.text_input("Save as", value="", placeholder="e.g. my-raw-z2", key="train_name",
                             help="Defaults to DATASET-HEAD-zLATENT-EPOCHSep")
        encoders = ["", *loaders.catalog().checkpoints]
        encoder = st.selectbox("Train only a decoder on this encoder", encoders, key="train_encoder",
                               format_func=lambda n: n or "no: train a whole VAE (encoder and decoder)",
                               help="Freezes that checkpoint's encoder and trains only a new decoder with the chosen "
                                    "head, in the same latent space: the explorer then shows both side by side at the "
                                    "same z. Latent size and dataset are that checkpoint's.")
        replace_own = st.checkbox("Replace my checkpoint of that name", key="train_replace",
                                  help="Only a checkpoint you made in this browser session can be replaced.")
        submitted = st.form_submit_button("Start training", type="primary")
    if not submitted:
        return
    settings: dict = {"head": head, "latent": latent, "epochs": int(epochs), "lr": float(lr), "dataset": dataset}
    try:
        if encoder:  # a decoder for that encoder: its latent space, sizes and data
            source = loaders.checkpoint(encoder)
            settings.update(latent=source.config.latent, hidden=source.config.hidden, dataset=source.dataset,
                            encoder_from=str(source.path) if source.path else None)
            name = name or f"{head}-decoder-on-{encoder.removeprefix('user/')}-{epochs}ep"[:64]
        start_training(loaders.runner(), name=name or f"{settings['dataset']}-{head}-z{settings['latent']}-{epochs}ep",
                       owner=visitor(), folder=paths.USER_CHECKPOINT_DIR, data_dir=paths.DEFAULT_DATA_DIR,
                       replace_own=replace_own, **settings)
    except Busy as err:
        st.warning(public(str(err)))
    except ValueError as err:  # bad name, name taken, quota, bad settings
        st.error(public(str(err)))


def describe(status: JobStatus, mine: bool) -> str:
    """One line about the job: settings, output name, whose it is."""
    cfg = status.config
    settings = "" if cfg is None else (f"{cfg.head} head, latent {cfg.latent}, {cfg.dataset}, {cfg.epochs} "
                                       f"epoch{'s' * (cfg.epochs != 1)}, lr {cfg.lr:g}")
    if cfg is not None and cfg.encoder_from:
        settings += f", decoder only, on the frozen encoder of {Path(cfg.encoder_from).stem}"
    out = status.out.name if status.out is not None else "?"
    return f"{settings} -> {out}" + (" (yours)" if mine else " (started by another visitor)")


def in_page_terms(error: str, dataset: str | None) -> str:
    """A failure as this page would say it: missing training data is files the server's operator
    must add (see 'Where the training data comes from'), not a command-line flag or a raw
    download error."""
    if dataset is None or "put the four IDX files" not in error:  # vae.data's missing-files message
        return error
    folder = raw_dir(dataset, ".").as_posix().removeprefix("./")
    return (f"The {dataset} training files are not on this server and could not be downloaded (no network "
            f"here). Its operator must put the four IDX files into {folder}/ inside the data folder (see 'Where the "
            "training data comes from' above); then start the run again.")


@st.fragment(run_every=1.0)
def job_status() -> None:
    """Polls the shared runner once a second: progress, live losses, the outcome."""
    runner = loaders.runner()
    status = runner.status()
    if status.state == "idle":
        st.caption("No training job has run on this server yet.")
        return
    mine = status.owner == visitor()
    st.text(describe(status, mine))
    p = status.progress
    if status.active:
        frac = 0.0 if p is None else ((p.epoch - 1) + p.step / p.steps_per_epoch) / p.epochs
        elapsed = time.time() - status.started if status.started is not None else 0.0
        st.progress(frac, text=f"{status.message} · {elapsed:.0f} s")
        if mine and st.button("Cancel", key="train_cancel"):  # only the visitor who started it
            try:
                runner.cancel(owner=visitor())
            except NotYourJob as err:
                st.error(public(str(err)))
    if p is not None:
        points = [{"epoch": h["epoch"], "loss": h["train_loss"], "curve": "train"} for h in status.history]
        points += [{"epoch": h["epoch"], "loss": h["test_loss"], "curve": "test"} for h in status.history]
        if status.active:
            points.append({"epoch": p.epoch - 1 + p.step / p.steps_per_epoch, "loss": p.train_loss,
                           "curve": "train (running)"})
        if points:  # a run that ended in its first epoch has none: its own error says why, below
            st.plotly_chart(figures.training_curves(points, status.config.epochs if status.config else 1),
                            key="train_curves", config=figures.CHART_CONFIG)
    out = status.out.name if status.out is not None else "the checkpoint"
    if status.state == "done":
        st.success(public(f"Finished: {out} is now selectable on every page."))
        if st.session_state.get("train_refreshed") != status.finished:
            st.session_state["train_refreshed"] = status.finished
            loaders.refresh_catalog()
    elif status.state == "failed":
        st.error(public(in_page_terms(status.error or "training failed", status.config.dataset if status.config else None)))
    elif status.state == "cancelled":
        st.info(public(status.message))
        if st.session_state.get("train_refreshed") != status.finished:
            st.session_state["train_refreshed"] = status.finished
            loaders.refresh_catalog()


def main() -> None:
    st.title("Train a variant")
    if read_only():
        st.info("Training is switched off on this server (read-only deployment).")
        return
    st.markdown(
        "Train your own decoder: pick the head, the latent size and the dataset. Training runs in the background "
        "on this server (one job at a time, shared by all visitors) and writes a checkpoint after every epoch; "
        "the finished model appears on the other pages. An epoch of MNIST takes seconds to a minute on a CPU. "
        "Try the raw head with a large learning rate to see what a run without the sigmoid's guard rail can do. "
        "The checkpoint is yours: others may use it, only you (this browser session) may replace or delete it.")
    data_section()
    start_form()
    job_status()


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
