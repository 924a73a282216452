"""The torch core of the sigmoid-vs-raw VAE decoder explorer: it knows no screen.

Importing the package only defines things; nothing is loaded, trained or downloaded, and the
torch-free modules (architecture, heads, datasets, checkpoints) import without torch, so the app
serves its first images without it. The app's services live in :mod:`services`.

* :mod:`vae.architecture` - the model's shape (``VAEConfig``) and its inference paths in numpy
* :mod:`vae.model`        - the classic MLP VAE in torch (decoder stops before the activation), KL term
* :mod:`vae.heads`        - output heads: activation + likelihood, the one registry
* :mod:`vae.bce`          - PyTorch's BCE formulas, vectorised, for the training step
* :mod:`vae.datasets`     - the datasets' facts, the one registry
* :mod:`vae.data`         - whole-array dataset splits and the shipped samples
* :mod:`vae.train`        - training loop and CLI (``python -m vae.train``)
* :mod:`vae.step`         - one training step, backward pass written out by hand (speed)
* :mod:`vae.sweep`        - grids of training runs (heads x learning rates x seeds) to one JSON summary
* :mod:`vae.evaluate`     - test-set metrics
* :mod:`vae.checkpoints`  - safe checkpoint I/O and CLI (``python -m vae.checkpoints``)
* :mod:`vae.atomic`       - atomic file writes
* :mod:`vae.paths`        - where the project keeps things
"""
