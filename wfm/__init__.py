"""wfm: statistical physics of learning — wide flat minima, BP, local entropy.

Public API::

    import wfm
    spec = wfm.RunSpec(model=wfm.ModelSpec(n=1001), data=wfm.DataSpec(alpha=0.6),
                       learner=wfm.LearnerSpec("fbp"), seed=0)
    run = wfm.run(spec, out="x.h5")
    run = wfm.open_run("x.h5")          # .config, .patterns, .labels, .weights, .trace
    wfm.theory.gardner_entropy(0.5)     # replica theory (RS)

Submodules that need numba are imported lazily, so ``import wfm`` stays cheap.
"""

from wfm._version import __version__

import importlib

from wfm.config import DataSpec, LearnerSpec, ModelSpec, RunSpec
from wfm.errors import (
    BPNotConvergedWarning,
    ConfigError,
    CudaUnavailableError,
    RunFileError,
    WfmError,
)


def run(spec, out=None, progress=False, quiet=True):
    """Run ``spec`` and store it; see :func:`wfm.api.run`."""
    from wfm.api import run as _run

    return _run(spec, out=out, progress=progress, quiet=quiet)


def open_run(path):
    """Open a stored run file; see :func:`wfm.store.open_run`."""
    from wfm.store import open_run as _open_run

    return _open_run(path)


def append_group(path, name, arrays, attrs=None):
    """Write or replace a group of a run file; see :func:`wfm.store.append_group`."""
    from wfm.store import append_group as _append_group

    return _append_group(path, name, arrays, attrs)


def local_entropy(patterns, labels, reference, **kwargs):
    """Local entropy S(d) of ``reference``; see :func:`wfm.measures.local_entropy`."""
    from wfm.measures.local_entropy import local_entropy as _local_entropy

    return _local_entropy(patterns, labels, reference, **kwargs)


def plot_local_entropy(paths_or_results, out, **kwargs):
    """Local-entropy curves with H2(d); see :func:`wfm.plot.plot_local_entropy`."""
    from wfm.plot import plot_local_entropy as _plot

    return _plot(paths_or_results, out, **kwargs)


def __getattr__(name):
    # lazy submodules: ``wfm.theory`` imports scipy only when first used
    if name in (
        "theory", "data", "store", "api", "models", "learners", "bench",
        "measures", "plot",
    ):  # fmt: skip
        return importlib.import_module(f"wfm.{name}")
    raise AttributeError(f"module 'wfm' has no attribute {name!r}")


__all__ = [
    "BPNotConvergedWarning",
    "ConfigError",
    "CudaUnavailableError",
    "DataSpec",
    "LearnerSpec",
    "ModelSpec",
    "RunFileError",
    "RunSpec",
    "WfmError",
    "__version__",
    "append_group",
    "local_entropy",
    "open_run",
    "plot_local_entropy",
    "run",
    "theory",
]
