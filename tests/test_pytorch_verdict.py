"""services.pytorch_verdict: PyTorch's own words about a decoder output, asked in a child process,
are exactly what F.binary_cross_entropy says in this process."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from services.pytorch_verdict import bce_verdict


def test_the_child_reports_pytorchs_error_for_outputs_outside_0_1_and_accepts_a_sigmoids():
    pre = np.linspace(-0.5, 1.5, 784)
    x = np.linspace(0, 1, 784)
    verdict = bce_verdict("raw", pre, x)
    try:
        F.binary_cross_entropy(torch.tensor(pre, dtype=torch.float32), torch.tensor(x, dtype=torch.float32))
    except RuntimeError as err:
        expected = str(err).strip().splitlines()[0]
    assert verdict.error == expected and "between 0 and 1" in expected
    assert verdict.torch_version == torch.__version__
    assert bce_verdict("sigmoid", pre, x).error is None, "the sigmoid maps any logit into (0, 1)"
