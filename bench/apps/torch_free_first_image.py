"""Experiment for bench/cold_start.py --app: what a torch-free first image would cost.

Not the product: the explorer's first image, reduced to what it needs without torch — the two
shipped 20-D checkpoints read with safetensors.numpy, the decoder's two layers and each head's
activation in numpy, the images shown. It bounds what the torch-free serving path described in
bench/RESULTS.md (section 4) could gain; it skips the checkpoint validation that path would need.
"""

from pathlib import Path

import numpy as np
import streamlit as st
from safetensors.numpy import load_file

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
ACTIVATIONS = {"sigmoid": lambda pre: 1 / (1 + np.exp(-pre)), "raw": lambda pre: pre}

z = np.zeros(20, dtype=np.float32)
for head, activation in ACTIVATIONS.items():
    w = load_file(CHECKPOINTS / f"mnist-{head}-z20.safetensors")
    hidden = np.maximum(w["fc3.weight"] @ z + w["fc3.bias"], 0)
    pixels = activation(w["fc4.weight"] @ hidden + w["fc4.bias"])
    st.image(np.clip(pixels, 0, 1).reshape(28, 28), caption=head, width=224)
