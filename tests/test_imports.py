"""The package's structure: import rules, no numba in config, no model-name dispatch.

Each rule was broken once by format-1 code (issue 9); these tests keep them.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "wfm"


def imports_of(module_path: Path) -> set[str]:
    """Every module imported anywhere in a file (``import a.b``, ``from a.b import
    c`` -> ``a.b`` and ``a.b.c``)."""
    tree = ast.parse(module_path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"wfm.{node.module}"
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def files(pattern):
    return sorted(PKG.glob(pattern))


def forbidden(paths, prefixes):
    bad = []
    for path in paths:
        for name in imports_of(path):
            if any(name == p or name.startswith(p + ".") for p in prefixes):
                bad.append(f"{path.relative_to(PKG.parent)} imports {name}")
    return bad


def test_cli_imports_only_the_public_api():
    allowed = {"wfm", "wfm.sweep"}
    bad = [
        name
        for name in imports_of(PKG / "cli.py")
        if name.startswith("wfm") and name not in allowed
    ]
    assert bad == []


def test_measures_import_no_store_no_config_no_learners():
    assert (
        forbidden(
            files("measures/*.py"),
            ["wfm.store", "wfm.config", "wfm.learners", "wfm.api"],
        )
        == []
    )


def test_plot_imports_no_kernels():
    assert forbidden([PKG / "plot.py"], ["wfm.kernels"]) == []


def test_store_imports_neither_root_nor_config():
    names = imports_of(PKG / "store.py")
    assert "wfm" not in names
    assert forbidden([PKG / "store.py"], ["wfm.config", "wfm.data", "numba"]) == []


def test_kernels_import_no_learners_store_or_measures():
    assert (
        forbidden(
            files("kernels/**/*.py"),
            ["wfm.learners", "wfm.store", "wfm.measures", "wfm.api", "wfm.config"],
        )
        == []
    )


def test_no_learner_private_state_outside_learners():
    paths = [p for p in files("**/*.py") if "learners" not in p.parts]
    bad = [
        f"{p.name}: {n}"
        for p in paths
        for n in imports_of(p)
        if n.startswith("wfm.learners._")
    ]
    assert bad == []


@pytest.mark.parametrize("module", ["wfm.config", "wfm", "wfm.learners", "wfm.models"])
def test_importing_config_loads_no_numba(module):
    code = (
        f"import sys, {module}; "
        "bad = [m for m in sys.modules if m == 'numba' or m.startswith('numba.')]; "
        "print(len(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "0"
    assert "numba" not in out.stderr  # -X importtime lists every module loaded


MODEL_NAMES = ["perceptron-binary", "perceptron-spherical", "committee-tree",
               "committee-full", "parity"]  # fmt: skip


def test_no_model_name_literal_outside_the_registry():
    """Model names appear as string literals only in the model registry (and in
    wfm.theory, whose public functions take the model as an argument)."""
    bad = []
    for path in files("**/*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] in ("models", "theory"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # a dict key such as {"parity": arch.parity} names a structural flag
        keys = {
            id(k) for d in ast.walk(tree) if isinstance(d, ast.Dict) for k in d.keys
        }
        for node in ast.walk(tree):
            if id(node) in keys:
                continue
            if isinstance(node, ast.Constant) and node.value in MODEL_NAMES:
                bad.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert bad == []


def test_no_import_cycle_between_measures():
    for path in files("measures/*.py"):
        names = imports_of(path)
        for other in files("measures/*.py"):
            if other == path:
                continue
            mod = f"wfm.measures.{other.stem}"
            if mod in names:
                assert f"wfm.measures.{path.stem}" not in imports_of(other)
