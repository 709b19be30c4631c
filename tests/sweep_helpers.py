"""A fake learner for sweep tests, registrable in this process (tests) or in a child
process (the kill-the-sweep tests), and comparison of run files."""

import dataclasses
import time
import types

import h5py
import numpy as np

import wfm.learners
import wfm.models
from wfm.learners.registry import LEARNERS, LearnerInfo
from wfm.params import Param, at_least

NAME = "fake-sweep"

PARAMS = (
    Param("max_sweeps", "int", 12, "sweeps", at_least(1)),
    Param("sleep", "float", 0.0, "seconds slept per sweep", at_least(0.0)),
    Param("fail_on_seed", "int", -1, "raise on this seed (-1: never)"),
    Param("nan_on_seed", "int", -1, "NaN weights on this seed (-1: never)"),
    Param("unsolved_every", "int", 0, "not converged when seed % k == 0 (0: never)"),
)


def _learn(problem, params, ctx):
    """Deterministic from the seed, resumable; checkpoint and trace every sweep."""
    if ctx.seed == params["fail_on_seed"]:
        raise RuntimeError(f"planned failure on seed {ctx.seed}")
    n = problem.n_weights
    rng = ctx.rng("learner")
    start = 1
    if ctx.resumed is not None:
        start = ctx.resumed["sweep"]
        rng.bit_generator.state = ctx.resumed["rng_state"]
    for it in range(start, params["max_sweeps"] + 1):
        ctx.checkpoint(
            lambda it=it: {"sweep": it, "rng_state": rng.bit_generator.state}
        )
        time.sleep(params["sleep"])
        ctx.trace({"iteration": it, "gamma": rng.random()})
    w = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    if ctx.seed == params["nan_on_seed"]:
        w[0] = np.nan
    k = params["unsolved_every"]
    errors = wfm.models.reference_errors(
        problem.arch, np.nan_to_num(w), problem.patterns, problem.labels, problem.kappa
    )
    return wfm.learners.LearnerResult(
        weights=w,
        train_errors=errors,
        converged=not (k and ctx.seed % k == 0),
        iterations=params["max_sweeps"],
        attrs={},
    )


INFO = LearnerInfo(
    name=NAME,
    module=types.SimpleNamespace(learn=_learn),
    description="fake learner of the sweep tests",
    params=PARAMS,
    goal="fixed-point",
    trace_fields={
        "iteration": ("int64", "sweeps done", "sweeps"),
        "gamma": ("float64", "a random number", "1"),
    },
)


def register(setitem=None):
    """Register the fake learner for every model (``setitem`` e.g. a monkeypatch's,
    default plain assignment)."""
    if setitem is None:

        def setitem(d, k, v):
            d[k] = v

    setitem(LEARNERS, NAME, INFO)
    for name, info in list(wfm.models.MODELS.items()):
        if NAME not in info.learners:
            setitem(
                wfm.models.MODELS,
                name,
                dataclasses.replace(info, learners=(*info.learners, NAME)),
            )


def contents(path):
    """What must be equal between two runs of one spec: data, trace, weights and the
    solution attributes but the wall time."""
    out = {}
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "complete"
        out["config"] = f.attrs["config"]

        def visit(key, obj):
            if isinstance(obj, h5py.Dataset) and key.split("/")[0] != "local_entropy":
                out[key] = obj[()].tobytes()

        f.visititems(visit)
        out["solution"] = {
            k: (v.tobytes() if isinstance(v, np.ndarray) else v)
            for k, v in f["solution"].attrs.items()
            if k != "wall_time_s"
        }
    return out
