"""Which decoders share a latent space: checkpoints grouped by their encoder's weights.

Two independently trained VAEs learn unrelated latent spaces: the same z is a 1 for one and a
blob for the other, so comparing their decoders at one z compares two different digits. A decoder
trained on a frozen encoder (``python -m vae.train --encoder-from``) shares that encoder's latent
space, and then the side-by-side differs only in the decoder's last activation and its loss.

Checkpoints are grouped by :func:`vae.checkpoints.encoder_sha256` of their actual weights (the
metadata's ``encoder_from`` only names the source for display: it is not trusted for grouping).
Two ways to choose the decoders a page puts side by side:

* ``same``        - decoders that share the reference's encoder (the default);
* ``independent`` - whole VAEs trained on their own, each with its own encoder (the questioner's
  experiment: retrain the VAE without the sigmoid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vae.architecture import decode_arrays
from vae.checkpoints import Checkpoint, encoder_sha256

from .catalog import Catalog

MODES = {"same": "Same encoder, decoders swapped", "independent": "Independently trained VAEs"}
DEFAULT_MODE = "same"
SAME_NOTE = "Same encoder: only the decoder's last activation and loss differ, so the same z means the same digit."
INDEPENDENT_NOTE = ("Independently trained VAEs: each learned its own latent space, so the same z can mean a "
                    "different digit in each; digits are encoded with each model's own encoder.")
AGREEMENT_POINTS = 200  # random z per measurement (agreement); seed 0


def agreement_line(reference: str, others: dict[str, float]) -> str:
    """One plain-text line of measured agreements: ``others`` maps a checkpoint name to its median
    pixel correlation with ``reference`` (:func:`agreement`). Names come from files: escape for markdown."""
    values = ", ".join(f"{name} {r:.2f}" for name, r in others.items())
    return (f"Measured at {AGREEMENT_POINTS} random z, median pixel correlation with the image of {reference} "
            f"(1 = the same picture): {values}.")


@dataclass(frozen=True)
class Pairing:
    """The catalog's checkpoints and the encoder each one has (by SHA-256 of its weights)."""

    catalog: Catalog
    encoders: dict[str, str]  # checkpoint name -> encoder hash

    @classmethod
    def of(cls, catalog: Catalog) -> Pairing:
        """Hash every checkpoint's encoder once (a few ms each; cache the result)."""
        return cls(catalog, {name: encoder_sha256(c.weights) for name, c in catalog.checkpoints.items()})

    def same_encoder(self, names: Sequence[str]) -> bool:
        """Whether all ``names`` encode every image to the same z."""
        return len({self.encoders[n] for n in names}) <= 1

    def note(self, names: Sequence[str]) -> str:
        """The one line a page shows above decoders ``names``, true of those very checkpoints."""
        return SAME_NOTE if self.same_encoder(names) else INDEPENDENT_NOTE

    def reference(self, dataset: str, latent: int) -> str | None:
        """The sigmoid model a comparison starts from: a whole VAE (not a decoder-only one), the
        one with the most decoders trained on its encoder, shipped before the user's."""
        cat = self.catalog
        sigmoid = [cat.name_of(c) for c in cat.select(dataset=dataset, latent=latent, head="sigmoid")]
        pool = [n for n in sigmoid if not decoder_only(cat.checkpoints[n])] or sigmoid
        if not pool:
            pool = [cat.name_of(c) for c in cat.select(dataset=dataset, latent=latent)]
        if not pool:
            return None
        return max(pool, key=lambda n: (len(self.partners(n)), -pool.index(n)))

    def partners(self, name: str) -> list[str]:
        """The other checkpoints that share ``name``'s encoder, in catalog order."""
        return [n for n, sha in self.encoders.items() if sha == self.encoders[name] and n != name]

    def matches(self, name: str, mode: str) -> list[str]:
        """Checkpoints that may decode next to ``name`` in ``mode``: those sharing its encoder
        (``same``), or those of the same dataset and latent size with an encoder of their own
        (``independent``; whole VAEs first)."""
        _check_mode(mode)
        if mode == "same":
            return self.partners(name)
        ckpt = self.catalog.checkpoints[name]
        others = [n for n, c in self.catalog.checkpoints.items()
                  if c.dataset == ckpt.dataset and c.config.latent == ckpt.config.latent
                  and self.encoders[n] != self.encoders[name]]
        return sorted(others, key=lambda n: decoder_only(self.catalog.checkpoints[n]))  # stable: catalog order

    def lineup(self, name: str, heads: Sequence[str], mode: str) -> list[str]:
        """For each of ``heads`` (in order), the checkpoint that plays it next to ``name``: ``name``
        itself for its own head, else the first of :meth:`matches`. Heads without one are left out."""
        candidates = [name, *self.matches(name, mode)]
        found = []
        for head in heads:
            pick = next((n for n in candidates if self.catalog.checkpoints[n].head.name == head), None)
            if pick is not None and pick not in found:
                found.append(pick)
        return found


def decoder_only(ckpt: Checkpoint) -> bool:
    """Whether the checkpoint says it was trained as a decoder on a frozen encoder."""
    return ckpt.meta.encoder_from is not None


def trained_on(ckpt: Checkpoint) -> str:
    """One line on where the checkpoint's encoder came from (for captions; shown as plain text)."""
    ref = ckpt.meta.encoder_from
    if ref is None:
        return "a whole VAE: encoder and decoder trained together"
    return f"only the decoder trained, on the frozen encoder of {ref.name}"


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown pairing mode {mode!r} (known: {', '.join(MODES)})")


def agreement(a: Checkpoint, b: Checkpoint, n: int = AGREEMENT_POINTS, seed: int = 0) -> np.ndarray:
    """Pixel correlation of the two decoders' images at ``n`` points z ~ N(0, I), one per point.

    Pearson correlation over the 784 pixels of ``a``'s image and ``b``'s, each clipped into
    [0, 1] (what a viewer sees); 0 where an image is constant. Near 1: both draw the same digit.
    """
    if a.config.latent != b.config.latent:
        raise ValueError(f"latent sizes differ ({a.config.latent} vs {b.config.latent}): no common z")
    z = np.random.default_rng(seed).standard_normal((n, a.config.latent)).astype(np.float32)
    pa, pb = (np.clip(c.head.pixels_np(decode_arrays(c.weights, z)), 0, 1).astype(np.float64) for c in (a, b))
    pa -= pa.mean(axis=1, keepdims=True)
    pb -= pb.mean(axis=1, keepdims=True)
    denom = np.sqrt((pa * pa).sum(axis=1) * (pb * pb).sum(axis=1))
    return np.divide((pa * pb).sum(axis=1), denom, out=np.zeros(n), where=denom > 0)
