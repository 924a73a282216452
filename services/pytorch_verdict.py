"""PyTorch's own verdict on a decoder output, asked in a child process.

The explorer serves without importing torch (seconds of start-up and ~480 MB; bench/RESULTS.md),
yet its first screen quotes what ``F.binary_cross_entropy`` says about the raw decoder's output.
A short-lived ``python -m services.pytorch_verdict`` computes it with the real function
(:meth:`vae.heads.Head.bce_error`) and exits, so the server process never loads torch for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Verdict:
    """What ``F.binary_cross_entropy(head output, x)`` said: ``error`` is None when it accepted."""

    error: str | None
    torch_version: str


def bce_verdict(head: str, pre: np.ndarray, x: np.ndarray, timeout: float = 120) -> Verdict:
    """Run ``F.binary_cross_entropy`` on ``head``'s output for the pre-activations ``pre``
    against the target ``x`` (784 floats each) in a child process; raise RuntimeError with a
    one-line reason when the child fails."""
    request = json.dumps({"head": head, "pre": np.asarray(pre, dtype=float).ravel().tolist(),
                          "x": np.asarray(x, dtype=float).ravel().tolist()})
    done = subprocess.run([sys.executable, "-m", "services.pytorch_verdict"], input=request, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"asking PyTorch failed: {last}")
    answer = json.loads(done.stdout)
    return Verdict(error=answer["error"], torch_version=answer["torch"])


def main() -> None:
    """Child side: read the request from stdin, answer one JSON line on stdout."""
    import torch

    from vae.heads import get_head

    request = json.load(sys.stdin)
    pre = torch.tensor(request["pre"], dtype=torch.float32).reshape(1, -1)
    x = torch.tensor(request["x"], dtype=torch.float32).reshape(1, -1)
    print(json.dumps({"error": get_head(request["head"]).bce_error(pre, x), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
