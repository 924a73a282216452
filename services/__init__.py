"""App services: what the pages call, between the widgets and the torch core in :mod:`vae`.

No Streamlit here (the pages and ``ui/`` hold that); the core imports nothing from here.

* :mod:`services.catalog`         - the checkpoints the app can choose from, shipped and the users'
* :mod:`services.decoding`        - decode latent points / encode digits in numpy (no torch)
* :mod:`services.scoring`         - one image's reconstruction scored by every yardstick (torch)
* :mod:`services.latent_geometry` - the prior's typical radius, grids, interpolation paths
* :mod:`services.display`         - decoder outputs to images, the ways real code does it
* :mod:`services.preprocess`      - an uploaded or drawn image prepared like MNIST
* :mod:`services.jobs`            - one background training run shared by the server
"""
