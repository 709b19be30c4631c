"""Shared fixtures: a fast fake learner registered for tests of config, store, api and
CLI, and small instances."""

import dataclasses
import types

import numpy as np
import pytest

import wfm.learners
import wfm.models
from wfm.learners.registry import LEARNERS, LearnerInfo
from wfm.params import Param, at_least, between, one_of

FAKE_PARAMS = (
    Param("max_sweeps", "int", 12, "fake sweeps", at_least(1)),
    Param("damping", "float", 0.5, "unused", between(0.0, 1.0, hi_open=False),
          per_model={"machine": 0.25}),
    Param("gamma", "float+inf", float("inf"), "unused"),
    Param("protocol", "str", "standard", "unused", one_of("standard", "pseudo")),
    Param("verbose", "bool", False, "unused"),
    Param("schedule", "list", [], "unused"),
)  # fmt: skip


def _fake_learn(problem, params, ctx):
    """Random ±1 weights, a trace record and a safe point per 'sweep'; honest error
    count. Resumable: the position and the learner stream's state are its state."""
    n = problem.n_weights
    rng = ctx.rng("learner")
    start = 1
    if ctx.resumed is not None:
        start = ctx.resumed["position"]["sweep"]
        rng.bit_generator.state = ctx.resumed["rng_state"]
    for it in range(start, params["max_sweeps"] + 1):
        ctx.checkpoint(
            lambda it=it: {
                "position": {"sweep": it},
                "rng_state": rng.bit_generator.state,
            }
        )
        draw = rng.random()
        ctx.trace({"iteration": it, "gamma": 0.1 * it + draw, "maxdiff": 1.0 / it})
    w = np.where(rng.random(n) < 0.5, -1, 1).astype(np.int8)
    w = w.reshape(problem.arch.weight_shape(problem.n_inputs))
    errors = wfm.models.reference_errors(
        problem.arch, w, problem.patterns, problem.labels, problem.kappa
    )
    return wfm.learners.LearnerResult(
        weights=w,
        train_errors=errors,
        converged=True,
        iterations=params["max_sweeps"],
        attrs={"free_entropy": 0.25, "bp_converged": True, "note": None},
    )


FAKE_MODULE = types.SimpleNamespace(learn=_fake_learn)

FAKE = LearnerInfo(
    name="fake",
    module=FAKE_MODULE,
    description="a fast fake learner for tests",
    params=FAKE_PARAMS,
    goal="fixed-point",
    kernels=(),
    trace_fields={
        "iteration": ("int64", "fake sweeps done", "sweeps"),
        "gamma": ("float64", "a number", "1"),
        "maxdiff": ("float64", "another number", "1"),
    },
)


@pytest.fixture
def fake_learner(monkeypatch):
    """Register learner ``"fake"`` (fast, deterministic, resumable) for every model
    during a test."""
    monkeypatch.setitem(LEARNERS, "fake", FAKE)
    for name, info in list(wfm.models.MODELS.items()):
        monkeypatch.setitem(
            wfm.models.MODELS, name,
            dataclasses.replace(info, learners=(*info.learners, "fake")),
        )  # fmt: skip
    return FAKE


@pytest.fixture
def small_spec(fake_learner):
    """A tiny valid RunSpec (N=51, alpha=0.5) using the fake learner."""
    from wfm.config import DataSpec, LearnerSpec, ModelSpec, RunSpec

    return RunSpec(
        model=ModelSpec(n=51),
        data=DataSpec(alpha=0.5),
        learner=LearnerSpec("fake"),
        seed=3,
    )


def random_instance(n, alpha, seed, *, n_weights=None):
    """A random ±1 storage instance: (patterns (P, N) int8, labels (P,) int8), with
    ``P = round(alpha * n_weights)`` (``n_weights`` defaults to ``n``)."""
    rng = np.random.default_rng(seed)
    p = int(round(alpha * (n_weights or n)))
    patterns = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), size=p)
    return patterns, labels


@pytest.fixture
def make_instance():
    """Factory of random ±1 storage instances (see :func:`random_instance`)."""
    return random_instance


def _stop_and_resume(info, problem, params, *, seed, at):
    """Run a learner to its end; run it again, stop it at its ``at``-th safe point
    (as SIGTERM would, after saving the state there) and resume from that state.

    Returns ``(full, resumed)``: the two results must be identical.
    """
    from wfm.errors import RunInterrupted
    from wfm.learners import RunContext

    module = info.load()
    full = module.learn(problem, params, RunContext(seed=seed))
    saved = []

    class Stop(RunContext):
        def checkpoint(self, make_state):
            if len(saved) == at - 1:
                saved.append(make_state())
                raise RunInterrupted("test")
            saved.append(None)

    with pytest.raises(RunInterrupted):
        module.learn(problem, params, Stop(seed=seed))
    resumed = module.learn(problem, params, RunContext(seed=seed, resumed=saved[-1]))
    return full, resumed


@pytest.fixture
def stop_and_resume():
    """``stop_and_resume(info, problem, params, seed=, at=) -> (full, resumed)``."""
    return _stop_and_resume


@pytest.fixture
def sigterm_at_safe_point(monkeypatch):
    """``sigterm_at_safe_point(n)``: every run context asks to stop at its ``n``-th
    safe point, as a SIGTERM would; ``.restore()`` undoes it."""
    from wfm.learners.context import RunContext

    real = RunContext.checkpoint

    def arm(n):
        calls = {"n": 0}

        def checkpoint(self, make_state):
            calls["n"] += 1
            if calls["n"] == n:
                self.request_stop("SIGTERM")
            return real(self, make_state)

        monkeypatch.setattr(RunContext, "checkpoint", checkpoint)

    arm.restore = lambda: monkeypatch.setattr(RunContext, "checkpoint", real)
    return arm
