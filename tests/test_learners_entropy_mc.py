"""Entropy-driven Monte Carlo [P0]: solutions, determinism, resumable state."""

import numpy as np
import pytest

from wfm.config import LearnerSpec, RunSpec
from wfm.errors import ConfigError
from wfm.learners import learn
from wfm.models.perceptron import train_errors


def test_edmc_finds_a_solution_deterministically():
    rng = np.random.default_rng(7)
    x = (2 * rng.integers(0, 2, (30, 101)) - 1).astype(np.int8)
    y = (2 * rng.integers(0, 2, 30) - 1).astype(np.int8)
    runs = [learn("entropy-mc", x, y, seed=3) for _ in range(2)]
    assert runs[0].converged and runs[0].train_errors == 0
    assert train_errors(runs[0].weights, x, y, 0.0) == 0
    assert np.array_equal(runs[0].weights, runs[1].weights)


def test_edmc_params_validated():
    spec = RunSpec(learner=LearnerSpec("entropy-mc"))
    assert spec.learner.params["temperature"] == 0.0
    with pytest.raises(ConfigError, match="lambda_factor must be > 1"):
        LearnerSpec("entropy-mc", {"lambda_factor": 0.9})


def test_edmc_resumes_bit_for_bit(stop_and_resume):
    """Stop at the 3rd safe point (lambda step), resume from the saved state: same
    result (this instance needs 7 lambda steps)."""
    from wfm.learners import Problem, get_learner
    from wfm.models import Architecture

    rng = np.random.default_rng(7)
    x = (2 * rng.integers(0, 2, (55, 101)) - 1).astype(np.int8)
    y = (2 * rng.integers(0, 2, 55) - 1).astype(np.int8)
    info = get_learner("entropy-mc")
    params = info.resolve({})
    problem = Problem(x, y, Architecture())
    full, again = stop_and_resume(info, problem, params, seed=3, at=3)
    assert full.attrs["lambda_steps"] > 3
    np.testing.assert_array_equal(again.weights, full.weights)
    assert again.iterations == full.iterations
    assert again.attrs["accepted_moves"] == full.attrs["accepted_moves"]
