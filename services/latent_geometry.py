"""Where latent points lie: the prior's typical radius, grids and straight-line paths."""

from __future__ import annotations

import math
from functools import cache

import numpy as np

# The standard normal's 0.999 quantile, for the warning threshold below.
_Z_999 = 3.090232306167813


@cache
def chi2_quantile(df: int) -> float:
    """The 0.999-quantile of chi-squared with ``df`` degrees of freedom (Wilson-Hilferty, 1931).

    ||z||^2 of z ~ N(0, I_df) follows this law, so a larger value means z lies where the prior
    (and so the training data) almost never put the decoder. The cube-root normal approximation
    is within 1% of the exact quantile for df >= 2 (the tests hold it to torch's incomplete
    gamma); it only sets the explorer's warning threshold, so no special-function library is needed.
    """
    k = 2.0 / (9.0 * df)
    return df * (1.0 - k + _Z_999 * math.sqrt(k)) ** 3


def interpolate(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` points on the straight line from z_a to z_b (both ends included)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - t) * np.asarray(z_a)[None] + t * np.asarray(z_b)[None]


def grid_points(n: int, span: float = 3.0) -> np.ndarray:
    """An n x n grid over [-span, span]^2, row-major with z2 decreasing down the rows."""
    ticks = np.linspace(-span, span, n)
    zz1, zz2 = np.meshgrid(ticks, ticks[::-1])
    return np.stack([zz1.ravel(), zz2.ravel()], axis=1)
