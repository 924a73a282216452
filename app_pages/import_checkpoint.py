"""Import a checkpoint: ours (.safetensors) or a classic PyTorch-example state dict (.pt)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from services.catalog import USER_PREFIX
from services.deployment import read_only
from services.importing import import_upload
from services.ownership import NotOwner, delete, owned
from services.untrusted import public, redact
from ui import loaders
from ui.session import visitor
from vae import paths
from vae.checkpoints import MAX_CHECKPOINT_BYTES, CheckpointError, summary
from vae.datasets import DATASETS
from vae.heads import HEADS


def import_form() -> None:
    # The browser refuses bigger files up front; load_checkpoint_bytes checks again on the server.
    upload = st.file_uploader("Checkpoint file", type=["safetensors", "pt", "pth"], key="import_file",
                              max_upload_size=MAX_CHECKPOINT_BYTES // 2**20,
                              help=f"At most {MAX_CHECKPOINT_BYTES // 2**20} MB.")
    c1, c2, c3 = st.columns(3)
    head = c1.selectbox("Head (for files that do not name one)", list(HEADS), key="import_head")
    dataset = c2.selectbox("Trained on", list(DATASETS), key="import_dataset")
    default = Path(upload.name).stem if upload is not None else ""
    name = c3.text_input("Save as", value=default, key="import_name")
    replace_own = st.checkbox("Replace my checkpoint of that name", key="import_replace",
                              help="Only a checkpoint you made in this browser session can be replaced.")
    if not st.button("Validate and import", type="primary", disabled=upload is None, key="import_go") or upload is None:
        return
    try:
        saved = import_upload(upload.getvalue(), upload.name, name=name or default, owner=visitor(),
                              folder=paths.USER_CHECKPOINT_DIR, head=head, dataset=dataset, replace_own=replace_own)
    except (CheckpointError, ValueError) as err:  # bad file, bad or taken name, quota
        st.error(public(str(err)))
        return
    loaders.refresh_catalog()
    st.success(public(f"Imported as {USER_PREFIX}{saved.name}: it is now selectable on every page."))
    st.code(redact(summary(saved)), language="text")


def my_checkpoints() -> None:
    """The visitor's own checkpoints, each with a Delete button (nobody else's)."""
    mine = owned(paths.USER_CHECKPOINT_DIR, visitor())
    if not mine:
        return
    st.subheader("Your checkpoints")
    job = loaders.runner().status()
    for name in mine:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.text(USER_PREFIX + name)
        if c2.button("Delete", key=f"delete_{name}"):
            if job.active and job.out == paths.USER_CHECKPOINT_DIR / f"{name}.safetensors":
                st.error("A training run is writing this checkpoint; cancel it first.")
                continue
            try:
                delete(paths.USER_CHECKPOINT_DIR, name, visitor())
            except (NotOwner, OSError) as err:
                st.error(public(str(err)))
                continue
            loaders.refresh_catalog()
            st.rerun()


def catalog_table() -> None:
    cat = loaders.catalog()
    st.subheader("Available checkpoints")
    st.dataframe([{"name": n, "head": c.head.name, "latent": c.config.latent, "dataset": c.dataset,
                   "epochs": c.meta.epochs, "source": c.meta.source or ("shipped" if "/" not in n else "")}
                  for n, c in cat.checkpoints.items()], hide_index=True, key="import_list")
    if cat.errors:
        st.warning(f"{len(cat.errors)} file(s) skipped because they failed validation:")
        st.code("\n".join(redact(e) for e in cat.errors), language="text")


def main() -> None:
    st.title("Import a checkpoint")
    if read_only():
        st.info("Importing is switched off on this server (read-only deployment).")
        return
    st.markdown(
        "Bring your own weights: a `.safetensors` file written by this app, or the state dict the classic "
        "PyTorch example saves with `torch.save(model.state_dict(), 'vae.pt')`. Files are read without running "
        "any code from them (safetensors, or `torch.load(weights_only=True)`), and every tensor name, shape, dtype "
        "and value is checked before the model is used. A classic state dict does not say how its decoder ends, "
        "so choose the head it was trained with (the classic example: sigmoid). An imported checkpoint is yours: "
        "every visitor can use it, only you (this browser session) can replace or delete it.")
    import_form()
    my_checkpoints()
    catalog_table()


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
