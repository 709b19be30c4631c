"""Shared fixtures: a fast fake learner for tests of config, store, api and CLI."""

import types

import numpy as np
import pytest

import wfm.learners

FAKE_DEFAULTS = {
    "max_sweeps": 12,
    "damping": 0.5,
    "gamma": float("inf"),
    "protocol": "standard",
    "verbose": False,
    "schedule": [],
}


def _fake_learn(patterns, labels, *, params, kappa, rng, trace=None, progress=False):
    """Random ±1 weights, a trace record per 'sweep'; honest error count."""
    from wfm.models.perceptron import train_errors

    n = patterns.shape[1]
    w = np.where(rng.random(n) < 0.5, -1, 1).astype(np.int8)
    for it in range(1, params["max_sweeps"] + 1):
        if trace is not None:
            trace({"iteration": it, "gamma": 0.1 * it, "maxdiff": 1.0 / it})
    errors = train_errors(w, patterns, labels, kappa)
    return wfm.learners.LearnerResult(
        weights=w,
        train_errors=errors,
        converged=errors == 0,
        iterations=params["max_sweeps"],
        attrs={"free_entropy": 0.25, "bp_converged": True, "note": None},
    )


@pytest.fixture
def fake_learner(monkeypatch):
    """Register learner ``"fake"`` (fast, deterministic) for the duration of a test."""
    module = types.SimpleNamespace(DEFAULTS=dict(FAKE_DEFAULTS), learn=_fake_learn)
    real_get = wfm.learners.get_learner

    def get_learner(name):
        return module if name == "fake" else real_get(name)

    monkeypatch.setattr(
        wfm.learners, "LEARNER_NAMES", (*wfm.learners.LEARNER_NAMES, "fake")
    )
    monkeypatch.setattr(wfm.learners, "get_learner", get_learner)
    return module


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
