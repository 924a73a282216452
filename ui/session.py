"""Who is visiting: a browser session, since Streamlit has no login.

Each session gets a random token in its ``st.session_state`` (it never leaves the server); what
is recorded as the owner of a checkpoint or a training run is the token's SHA-256
(services.ownership.owner_id). A reload of the page starts a new session, and so a new visitor.
"""

from __future__ import annotations

import secrets

import streamlit as st

from services.ownership import owner_id

_TOKEN_KEY = "_visitor_token"


def visitor() -> str:
    """This session's owner id."""
    token = st.session_state.get(_TOKEN_KEY)
    if not isinstance(token, str):
        token = st.session_state[_TOKEN_KEY] = secrets.token_hex(16)
    return owner_id(token)
