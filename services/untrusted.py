"""Text the app did not write (metadata, file names, error messages quoting them), made safe to show.

Streamlit renders most text as markdown: an image link in a file name makes every visitor's
browser fetch it, and a backtick breaks out of a code span. :func:`literal` escapes every markdown
character so such text reads as written; :func:`redact` replaces server folders by what they are,
so that no message shows a visitor where the server keeps its files.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from vae import paths

# What makes markdown of one line: links and images ([ ]), code spans, emphasis, LaTeX ($),
# HTML and autolinks (< >), entities (&), headings (#), and Streamlit's :color[...] directives ([).
# Other punctuation stays as it is, so file names and messages read (and test) as written.
_MARKDOWN = re.compile(r"([\\`*_~\[\]<>#$&])")
_BLOCK_START = re.compile(r"^(\d{1,9})([.)])|^([-+=|>:!])")


def literal(text: str) -> str:
    """``text`` escaped for st.markdown / st.error / st.caption: shown verbatim, as one line."""
    line = _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))
    # a line that starts like a list item or a block quote ("- x", "1. x") would become one
    return _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", line)


def redact(text: str) -> str:
    """``text`` with the server's folders replaced by their role ("{user checkpoints}/x.safetensors")."""
    places = [(paths.USER_CHECKPOINT_DIR, "{user checkpoints}"), (paths.CHECKPOINT_DIR, "{checkpoints}"),
              (paths.DEFAULT_DATA_DIR, "{data folder}"), (Path(sys.prefix), "{python}"),
              (paths.REPO_ROOT, "{app}"), (Path.home(), "{home}")]
    text = str(text)
    # the longest first: a folder inside another is named by its own role
    for folder, label in sorted(places, key=lambda p: -len(str(p[0]))):
        for form in {str(folder), os.path.realpath(folder)}:
            if len(form) > 1:
                text = text.replace(form, label)
    return text


def public(text: str) -> str:
    """What a visitor may read of an error: server folders redacted, markdown escaped, one line."""
    return literal(redact(text))
