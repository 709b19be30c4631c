"""wfm: statistical physics of learning — wide flat minima, BP, local entropy.

Public API::

    import wfm
    spec = wfm.RunSpec(model=wfm.ModelSpec(n=1001), data=wfm.DataSpec(alpha=0.6),
                       learner=wfm.LearnerSpec("fbp"), seed=0)
    run = wfm.run(spec, out="x.h5")      # -> wfm.api.StoredRun
    run = wfm.open_run("x.h5")          # .config, .patterns, .labels, .weights, .trace
    wfm.local_entropy_of_run("x.h5")    # appends /local_entropy/solution
    wfm.theory.gardner_entropy(0.5)     # replica theory (RS)
    plan = wfm.load_sweep("runs/sweeps/fbp_alpha.toml", ["n=501,1001"], "0:20")
    wfm.run_sweep(plan, "results/fbp_alpha")   # one file per point, skip/resume
    wfm.catalog("results/fbp_alpha")    # DataFrame (pandas) or list of records

Submodules that need numba, scipy or h5py are imported lazily, so ``import wfm``
stays cheap and never fails because an optional extra is missing.
"""

import importlib

from wfm._version import __version__
from wfm.config import DataSpec, LearnerSpec, ModelSpec, RunSpec
from wfm.errors import (
    BPNotConvergedWarning,
    ConfigError,
    CudaUnavailableError,
    RunFileError,
    RunInterrupted,
    WfmError,
)

_API = (
    "analyze_flatness",
    "benchmark",
    "default_out_path",
    "describe_learners",
    "hessian_of_run",
    "load_spec",
    "local_energy_of_run",
    "local_entropy_of_run",
    "open_run",
    "plot_local_entropy",
    "quickstart",
    "resume",
    "run",
    "show",
    "store_theory",
    "generalisation_error_of_run",
    "theory_result",
    "train_errors",
)
_SUBMODULES = (
    "api", "backends", "bench", "data", "flatness", "learners", "measures", "models",
    "plot", "store", "theory",
)  # fmt: skip
# public name -> function of wfm.sweep (the module itself is ``wfm.sweep``)
_SWEEP_API = {
    "catalog": "catalog",
    "load_sweep": "load_plan",
    "run_sweep": "sweep",
    "sweep_measure": "sweep_measure",
    "table": "table",
}


def __getattr__(name):
    # lazy: the API functions (h5py, numba on use) and the submodules
    if name in _API:
        return getattr(importlib.import_module("wfm.api"), name)
    if name in _SWEEP_API:
        return getattr(importlib.import_module("wfm.sweep"), _SWEEP_API[name])
    if name in _SUBMODULES or name == "sweep":
        return importlib.import_module(f"wfm.{name}")
    raise AttributeError(f"module 'wfm' has no attribute {name!r}")


def local_entropy(patterns, labels, reference, **kwargs):
    """Local entropy S(d) of ``reference`` on arrays; see
    :func:`wfm.measures.local_entropy.local_entropy`."""
    from wfm.measures.local_entropy import local_entropy as _local_entropy

    return _local_entropy(patterns, labels, reference, **kwargs)


__all__ = [
    "BPNotConvergedWarning",
    "ConfigError",
    "CudaUnavailableError",
    "DataSpec",
    "LearnerSpec",
    "ModelSpec",
    "RunFileError",
    "RunInterrupted",
    "RunSpec",
    "WfmError",
    "__version__",
    "local_entropy",
    "theory",
    *_API,
    *_SWEEP_API,
]
