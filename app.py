"""Why does a VAE decoder end in a sigmoid? An interactive answer (``streamlit run app.py``)."""

import streamlit as st

from services.deployment import read_only
from ui import loaders

# Icons are emoji (drawn by the browser): Material icon names make the browser fetch an SVG from
# Google's font host on every rerun, and offline means no request leaves the app's own server.
st.set_page_config(page_title="Why the sigmoid? - VAE decoder explorer", page_icon="🎚️", layout="wide")

PAGES = [
    st.Page("app_pages/explorer.py", title="Latent explorer", icon="🎚️", default=True),
    ANSWERS := st.Page("app_pages/answers.py", title="The answers, tested", icon="🧪"),
    st.Page("app_pages/reconstructions.py", title="Reconstructions and likelihoods", icon="🔍"),
    st.Page("app_pages/heads.py", title="Activation comparison", icon="📈"),
    st.Page("app_pages/latent_map.py", title="Latent map and interpolation", icon="🗺️"),
]
if not read_only():  # VAE_EXPLORER_READ_ONLY=1: a public host where visitors write nothing to disk
    PAGES += [st.Page("app_pages/train.py", title="Train a variant", icon="🏋️"),
              st.Page("app_pages/import_checkpoint.py", title="Import a checkpoint", icon="📥")]

# Digits are sent at their real 28x28 size (cheap to encode on every slider move) and enlarged
# by the browser; without this the enlargement would blur them. Less top padding than Streamlit's
# default, so that the explorer's answer, sliders and images fit a 1280x720 screen. No Plotly mode
# bar on any chart: on a phone it covers the chart's title (Streamlit's own toolbar stays).
st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }"
        "[data-testid='stMainBlockContainer'] { padding-top: 3rem; }"
        ".modebar-container { display: none !important; }</style>")

with st.sidebar:
    st.markdown(
        "**The question:** *\"Why does the decoder use a sigmoid on the last layer? I removed it and the "
        "results still look nice.\"* Each page shows one part of the answer with real trained models.")
    st.page_link(ANSWERS, label="The answers, tested: each claim checked with real runs", icon="🧪")
    skipped = len(loaders.catalog().errors)
    if skipped:  # one bad file never breaks a page; the Import page lists them (file names only)
        st.caption(f"{skipped} checkpoint file(s) skipped: they failed validation.")

st.navigation(PAGES).run()
