"""How alike do two decoders draw the same z? The figure behind the app's pairing by encoder.

    python -m scripts.pairing_correlation [--n 200] [--seed 0] [--dir checkpoints]

For every sigmoid reference model (one per dataset and latent size), each decoder the app would put
beside it, in both pairing modes: the median and 10th percentile over ``--n`` points z ~ N(0, I)
of the pixel correlation between the two images (each clipped into [0, 1];
:func:`services.pairing.agreement`), and the share of the decoder's pixels outside [0, 1].
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from services.catalog import Catalog
from services.pairing import MODES, Pairing, agreement
from vae import paths
from vae.architecture import decode_arrays
from vae.checkpoints import discover


def rows(pairing: Pairing, n: int, seed: int) -> list[tuple[str, str, str, float, float, float]]:
    """(reference, mode, decoder, median correlation, 10th percentile, fraction outside [0, 1])."""
    cat = pairing.catalog
    out = []
    for dataset in cat.datasets():
        for latent in sorted({c.config.latent for c in cat.select(dataset=dataset)}):
            ref = pairing.reference(dataset, latent)
            if ref is None or cat.checkpoints[ref].head.name != "sigmoid":
                continue
            for mode in MODES:
                for name in pairing.matches(ref, mode):
                    a, b = cat.checkpoints[ref], cat.checkpoints[name]
                    corr = agreement(a, b, n, seed)
                    z = np.random.default_rng(seed).standard_normal((n, latent)).astype(np.float32)
                    pixels = b.head.pixels_np(decode_arrays(b.weights, z))
                    outside = float(((pixels < 0) | (pixels > 1)).mean())
                    out.append((ref, mode, name, float(np.median(corr)), float(np.percentile(corr, 10)), outside))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.pairing_correlation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="random latent points (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="checkpoint folder (default: the shipped ones)")
    args = parser.parse_args(argv)
    found, errors = discover(args.dir or paths.CHECKPOINT_DIR)
    for line in errors:
        print(f"skipped: {line}")
    pairing = Pairing.of(Catalog({c.name: c for c in found}))
    print(f"pixel correlation with the sigmoid decoder at {args.n} z ~ N(0, I) (seed {args.seed}), images clipped to [0, 1]")
    print(f"{'reference':<28} {'mode':<12} {'decoder':<52} {'median':>6} {'p10':>6} {'% out':>6}")
    for ref, mode, name, median, p10, outside in rows(pairing, args.n, args.seed):
        print(f"{ref:<28} {mode:<12} {name:<52} {median:6.3f} {p10:6.3f} {100 * outside:6.1f}")


if __name__ == "__main__":
    main()
