"""The torch backend of the sigmoid-vs-raw VAE decoder explorer.

Importing the package only defines things; nothing is loaded, trained or downloaded, and
torch is not imported until something needs it (the explorer serves images without it).

* :mod:`vae.architecture` - the model's shape and its decoder in numpy (serving)
* :mod:`vae.model`        - the classic MLP VAE in torch (decoder stops before the activation)
* :mod:`vae.heads`        - output heads: activation + likelihood, the one registry
* :mod:`vae.data`         - whole-array datasets and the shipped sample
* :mod:`vae.train`        - training loop and CLI
* :mod:`vae.step`         - one training step, backward pass written out by hand (speed)
* :mod:`vae.evaluate`     - test-set metrics
* :mod:`vae.checkpoints`  - safe checkpoint I/O and CLI
"""

from .architecture import VAEConfig
from .heads import HEADS, Head, get_head

__all__ = ["HEADS", "Head", "get_head", "VAE", "VAEConfig"]


def __getattr__(name: str):
    # vae.VAE without importing torch for everyone who only needs the rest
    if name == "VAE":
        from .model import VAE

        return VAE
    raise AttributeError(f"module 'vae' has no attribute {name!r}")
