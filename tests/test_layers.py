"""The layers: a torch core that knows no screen, app services beside it, ui/ and pages/ on top.

Data flows one way (widgets -> services -> core -> figures). Each rule is checked on the real
import graph: the core and the services are imported in a fresh interpreter and its
``sys.modules`` is read; ui/ and pages/ are read as source.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted(f"vae.{p.stem}" for p in (ROOT / "vae").glob("*.py") if p.stem != "__init__")
SERVICES = sorted(f"services.{p.stem}" for p in (ROOT / "services").glob("*.py") if p.stem != "__init__")
SCREEN = ("streamlit", "plotly", "PIL", "pandas")
# What only the core does: the network, its training and its likelihoods.
MODEL_MATH = ("torch", "vae.model", "vae.architecture", "vae.step", "vae.bce", "vae.evaluate", "vae.train")


def loaded_after_importing(modules: list[str]) -> set[str]:
    code = f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def top_level_packages(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def test_the_core_imports_no_service_and_nothing_of_a_screen():
    loaded = top_level_packages(loaded_after_importing(CORE))
    assert "vae" in loaded
    assert not loaded & {"services", "ui", *SCREEN}, sorted(loaded & {"services", "ui", *SCREEN})


def test_the_services_import_no_streamlit():
    loaded = top_level_packages(loaded_after_importing(SERVICES))
    assert {"services", "vae"} <= loaded
    assert not loaded & {"streamlit", "ui"}, sorted(loaded & {"streamlit", "ui"})


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "ui").glob("*.py")) + sorted((ROOT / "app_pages").glob("*.py")) + [ROOT / "app.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_screen_layers_do_no_model_math(path):
    math_imports = {name for name in imports_of(path) if name.split(".")[0] == "torch" or name in MODEL_MATH}
    assert not math_imports, f"{path.name} imports {sorted(math_imports)}: call a service instead"
