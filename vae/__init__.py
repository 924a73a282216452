"""The torch backend of the sigmoid-vs-raw VAE decoder explorer.

Importing the package only defines things; nothing is loaded, trained or downloaded.

* :mod:`vae.model`       - the classic MLP VAE (decoder stops before the activation)
* :mod:`vae.heads`       - output heads: activation + likelihood, the one registry
* :mod:`vae.data`        - whole-tensor datasets and the shipped sample
* :mod:`vae.train`       - training loop and CLI
* :mod:`vae.evaluate`    - test-set metrics
* :mod:`vae.checkpoints` - safe checkpoint I/O and CLI
"""

from .heads import HEADS, Head, get_head
from .model import VAE, VAEConfig

__all__ = ["HEADS", "Head", "get_head", "VAE", "VAEConfig"]
