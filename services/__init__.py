"""App services: what the pages call, between the widgets and the torch core in :mod:`vae`.

No Streamlit here (the pages and ``ui/`` hold that); the core imports nothing from here.

* :mod:`services.catalog`         - the checkpoints the app can choose from, shipped and the users'
* :mod:`services.pairing`         - which decoders share an encoder (one latent space), and how alike they draw
* :mod:`services.decoding`        - decode latent points / encode digits in numpy (no torch)
* :mod:`services.scoring`         - one image's reconstruction scored by every yardstick (torch)
* :mod:`services.pytorch_verdict` - PyTorch's own BCE verdict on a raw output, from a child process
* :mod:`services.latent_geometry` - the prior's typical radius, grids, interpolation paths
* :mod:`services.display`         - decoder outputs to images, the ways real code does it
* :mod:`services.preprocess`      - an uploaded or drawn image prepared like MNIST
* :mod:`services.evidence`        - sweep results summarised into the tour page's verdicts
* :mod:`services.bce_demo`        - the tour page's live torch computations (saturation, densities, save_image)
* :mod:`services.importing`       - an uploaded checkpoint validated, saved under a claimed name, re-read
* :mod:`services.jobs`            - one background training run shared by the server
* :mod:`services.ownership`       - who owns a user checkpoint; names claimed atomically
* :mod:`services.quotas`          - bounds on user checkpoints and stale temp files
* :mod:`services.deployment`      - the operator's switches (read-only public hosts)
* :mod:`services.untrusted`       - text from files and visitors made safe to show
"""
