"""Import a checkpoint: ours (.safetensors) or a classic PyTorch-example state dict (.pt)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from services.catalog import USER_PREFIX, checkpoint_name
from ui import loaders
from vae.checkpoints import MAX_CHECKPOINT_BYTES, CheckpointError, import_checkpoint, load_checkpoint_bytes, summary
from vae.datasets import DATASETS
from vae.evaluate import evaluate_on_sample
from vae.heads import HEADS
from vae.paths import USER_CHECKPOINT_DIR


def main() -> None:
    st.title("Import a checkpoint")
    st.markdown(
        "Bring your own weights: a `.safetensors` file written by this app, or the state dict the classic "
        "PyTorch example saves with `torch.save(model.state_dict(), 'vae.pt')`. Files are read without running "
        "any code from them (safetensors, or `torch.load(weights_only=True)`), and every tensor name, shape, dtype "
        "and value is checked before the model is used. A classic state dict does not say how its decoder ends, "
        "so choose the head it was trained with (the classic example: sigmoid).")
    # The browser refuses bigger files up front; load_checkpoint_bytes checks again on the server.
    upload = st.file_uploader("Checkpoint file", type=["safetensors", "pt", "pth"], key="import_file",
                              max_upload_size=MAX_CHECKPOINT_BYTES // 2**20,
                              help=f"At most {MAX_CHECKPOINT_BYTES // 2**20} MB.")
    c1, c2, c3 = st.columns(3)
    head = c1.selectbox("Head (for files that do not name one)", list(HEADS), key="import_head")
    dataset = c2.selectbox("Trained on", DATASETS, key="import_dataset")
    default = Path(upload.name).stem if upload is not None else ""
    name = c3.text_input("Save as", value=default, key="import_name")
    if st.button("Validate and import", type="primary", disabled=upload is None, key="import_go"):
        try:
            # the picked head only fills in for files that name none: ours carry their own
            ckpt = load_checkpoint_bytes(upload.getvalue(), upload.name, default_head=head)
            ckpt.meta.setdefault("dataset", dataset)
            stem = checkpoint_name(name or default)
            if USER_PREFIX + stem in loaders.catalog().checkpoints:
                raise ValueError(f"a checkpoint named {stem!r} already exists; choose another name")
            saved = import_checkpoint(ckpt, USER_CHECKPOINT_DIR / f"{stem}.safetensors",
                                      source=f"uploaded as {upload.name}", metrics=evaluate_on_sample(ckpt))
        except (CheckpointError, ValueError) as err:
            st.error(str(err))
        else:
            loaders.refresh_catalog()
            st.success(f"Imported as {USER_PREFIX}{stem}: it is now selectable on every page.")
            st.code(summary(saved), language="text")

    cat = loaders.catalog()
    st.subheader("Available checkpoints")
    st.dataframe([{"name": n, "head": c.head.name, "latent": c.config.latent, "dataset": c.dataset,
                   "epochs": c.meta.get("epochs"), "source": c.meta.get("source", "shipped" if "/" not in n else "")}
                  for n, c in cat.checkpoints.items()], hide_index=True, key="import_list")
    if cat.errors:
        st.warning("Files skipped because they failed validation:\n\n" + "\n".join(f"- {e}" for e in cat.errors))


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
