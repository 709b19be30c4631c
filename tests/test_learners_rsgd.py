"""Replicated SGD for binary weights (``rsgd``): solutions, resume, config."""

import numpy as np
import pytest

from wfm.config import LearnerSpec
from wfm.errors import ConfigError
from wfm.learners import Problem, get_learner, learn
from wfm.models import get_model, reference_errors

FULL = get_model("committee-full")
BINARY = get_model("perceptron-binary")


def instance(n, p, seed):
    rng = np.random.default_rng(1000 + seed)
    x = (2 * rng.integers(0, 2, (p, n)) - 1).astype(np.int8)
    y = (2 * rng.integers(0, 2, p) - 1).astype(np.int8)
    return x, y


def test_solves_an_easy_binary_perceptron():
    x, y = instance(201, 100, 0)
    trace = []
    r = learn("rsgd", x, y, model=BINARY.name, seed=0, trace=trace.append)
    assert r.converged and r.train_errors == 0 and r.weights.shape == (201,)
    assert r.weights.dtype == np.int8
    assert reference_errors(BINARY.architecture(), r.weights, x, y) == 0
    assert trace[0]["gamma"] == 0.05 and trace[1]["gamma"] == pytest.approx(0.051)
    assert trace[-1]["epoch"] == r.iterations
    assert min(trace[-1]["errors"], trace[-1]["min_replica_errors"]) == 0
    assert trace[0]["distance"] > trace[-1]["distance"]


def test_solves_an_easy_tree_committee():
    tree = get_model("committee-tree")
    x, y = instance(201, 60, 2)
    r = learn("rsgd", x, y, model=tree.name, k=3, params={"batch": 20}, seed=2)
    assert r.converged and r.weights.shape == (201,) and r.weights.dtype == np.int8
    assert reference_errors(tree.architecture(3), r.weights, x, y) == 0


def test_solves_an_easy_committee_waiting_for_the_centre():
    x, y = instance(101, 90, 1)
    r = learn(
        "rsgd", x, y, model=FULL.name, k=3, params={"wait_center": True, "batch": 30},
        seed=1,
    )  # fmt: skip
    assert r.converged and r.attrs["solution_from"] == "centre"
    assert r.weights.shape == (3, 101)
    assert reference_errors(FULL.architecture(3), r.weights, x, y) == 0


@pytest.mark.slow
def test_reference_configuration_solves_most_seeds():
    """BinaryCommitteeMachineRSGD.jl's documented example: N = 321, K = 5, P = 802
    (alpha = 0.5), y = 7, batch 80, lambda = 0.75, gamma = 0.05 + 0.001 t (the
    defaults). Measured: 8/8 seeds in 270-713 epochs, 6-17 s each on 2 busy cores."""
    solved = 0
    for seed in range(4):
        x, y = instance(321, 802, seed)
        r = learn("rsgd", x, y, model=FULL.name, k=5, seed=seed)
        solved += reference_errors(FULL.architecture(5), r.weights, x, y) == 0
    assert solved >= 3


def test_resumes_bit_for_bit(stop_and_resume):
    """Stop at the 6th safe point (epoch), resume from the saved state: same result."""
    x, y = instance(101, 120, 2)
    info = get_learner("rsgd")
    params = info.resolve({"y": 3, "batch": 20}, FULL)
    problem = Problem(x, y, FULL.architecture(3))
    full, again = stop_and_resume(info, problem, params, seed=5, at=6)
    assert full.iterations > 6
    np.testing.assert_array_equal(again.weights, full.weights)
    assert again.iterations == full.iterations and again.attrs == full.attrs


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"y": 0}, "learner.y must be >= 1, got 0"),
        ({"lr": -0.5}, "learner.lr must be > 0, got -0.5"),
        ({"lam": -1}, "learner.lam must be >= 0, got -1.0"),
        ({"gamma": ["linear", 0.05]}, "learner.gamma must be a number"),
        ({"pull": "soft"}, "learner.pull must be one of tanh, hard, corrected"),
    ],
)
def test_bad_parameters_one_line(params, message):
    with pytest.raises(ConfigError) as info:
        LearnerSpec("rsgd", params)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_parity_machine_is_not_supported():
    with pytest.raises(ConfigError, match="learner 'rsgd' does not support"):
        get_model("parity").check_learner("rsgd")


@pytest.mark.parametrize(
    ("model", "k", "learner", "n"),
    [("committee-full", 3, "rsgd", 101), ("perceptron-spherical", 1, "sgd-ce", 201)],
)
def test_store_resume_equals_uninterrupted(
    tmp_path, sigterm_at_safe_point, model, k, learner, n
):
    """Through the run file: SIGTERM at the 5th epoch, ``wfm.resume``; the fields /
    weights and the stream state survive the checkpoint (rng state as JSON)."""
    import wfm
    from wfm.config import DataSpec, ModelSpec, RunSpec

    spec = RunSpec(
        model=ModelSpec(model, n=n, k=k), data=DataSpec("random", alpha=0.4 * 3 / k),
        learner=LearnerSpec(learner, {"batch": 30}), seed=4,
    )  # fmt: skip
    ref = wfm.run(spec, out=tmp_path / "ref.h5")
    sigterm_at_safe_point(5)
    out = tmp_path / "r.h5"
    with pytest.raises(wfm.RunInterrupted):
        wfm.run(spec, out=out, checkpoint_seconds=1e9)
    sigterm_at_safe_point.restore()
    again = wfm.resume(out)
    assert ref.solution.attrs["iterations"] > 5
    np.testing.assert_array_equal(again.weights, ref.weights)
    for key in ref.trace:
        np.testing.assert_array_equal(again.trace[key], ref.trace[key])


# ------------------------------------------------------------- continuous weights
SPHERICAL = get_model("perceptron-spherical")


def test_continuous_replicas_solve_the_spherical_perceptron():
    x, y = instance(201, 201, 3)
    trace = []
    r = learn("rsgd", x, y, model=SPHERICAL.name, seed=0, trace=trace.append)
    assert r.converged and r.weights.dtype == np.float64
    assert np.dot(r.weights, r.weights) == pytest.approx(201, rel=1e-12)
    assert reference_errors(SPHERICAL.architecture(), r.weights, x, y) == 0
    # independent replicas pulled together as the coupling grows
    assert trace[0]["distance"] > 0.5 > trace[-1]["distance"]
    assert trace[1]["gamma"] == pytest.approx(0.051) and trace[1]["beta"] > 0.5
    assert r.attrs["final_gamma"] == pytest.approx(0.05 + 0.001 * (r.iterations - 1))


def test_continuous_replicas_with_no_coupling_are_independent_sgd_runs():
    """gamma = 0: each replica is plain SGD from its own start; the centre is their
    normalised mean."""
    from wfm.learners.rsgd import ReplicatedRule

    seen = {}

    class Capture(ReplicatedRule):
        def attrs(self):
            seen["replicas"] = self.replicas.copy()
            return {}

    from wfm.learners import RunContext
    from wfm.learners.sgd import minibatch_descent

    x, y = instance(101, 150, 4)
    info = get_learner("rsgd")
    params = info.resolve({"gamma": 0.0, "y": 3, "epochs": 4}, SPHERICAL)
    loop = {**params, "gamma": params["beta"], "coupling": 0.0, "activation": "linear"}
    problem = Problem(x, y, SPHERICAL.architecture())
    r = minibatch_descent(problem, loop, RunContext(seed=1), Capture)
    reps = seen["replicas"]
    assert np.linalg.norm(reps[0] - reps[1]) > 1.0  # not pulled together
    mean = reps.mean(axis=0)
    np.testing.assert_allclose(r.weights, mean * np.sqrt(101) / np.linalg.norm(mean))


def test_continuous_replicas_resume_bit_for_bit(stop_and_resume):
    x, y = instance(101, 101, 5)
    info = get_learner("rsgd")
    params = info.resolve({"epochs": 20, "y": 3}, SPHERICAL)
    problem = Problem(x, y, SPHERICAL.architecture())
    full, again = stop_and_resume(info, problem, params, seed=3, at=5)
    np.testing.assert_array_equal(again.weights, full.weights)
    assert again.iterations == full.iterations and again.attrs == full.attrs
