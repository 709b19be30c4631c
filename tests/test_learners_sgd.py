"""SGD on the cross-entropy (``sgd-ce``): solutions, loss descent, resume, config."""

import numpy as np
import pytest

from wfm.config import DataSpec, LearnerSpec, ModelSpec, RunSpec
from wfm.errors import ConfigError
from wfm.learners import Problem, get_learner, learn
from wfm.models import get_model, reference_errors


def instance(n, p, seed=0):
    rng = np.random.default_rng(seed)
    x = (2 * rng.integers(0, 2, (p, n)) - 1).astype(np.int8)
    y = (2 * rng.integers(0, 2, p) - 1).astype(np.int8)
    return x, y


SPHERICAL = get_model("perceptron-spherical")


@pytest.mark.parametrize("seed", [0, 1])
def test_solves_the_spherical_perceptron_at_alpha_1(seed):
    x, y = instance(201, 201, seed)
    trace = []
    r = learn("sgd-ce", x, y, model=SPHERICAL.name, seed=seed, trace=trace.append)
    assert r.converged and r.train_errors == 0
    assert r.weights.dtype == np.float64 and r.weights.shape == (201,)
    assert np.dot(r.weights, r.weights) == pytest.approx(201, rel=1e-12)
    assert reference_errors(SPHERICAL.architecture(), r.weights, x, y) == 0
    assert trace[-1]["errors"] == 0 and trace[-1]["epoch"] == r.iterations
    assert trace[0]["loss"] > trace[-1]["loss"]
    assert all(t["norm"] == pytest.approx(1.0) for t in trace)


@pytest.mark.parametrize(
    ("model", "k", "n", "alpha", "params"),
    [
        ("perceptron-binary", 1, 201, 0.4, {}),
        ("committee-tree", 3, 201, 0.3, {"lr": 2.0}),
        ("committee-full", 3, 101, 0.3, {"lr": 2.0}),
    ],
)
def test_solves_easy_binary_instances_via_latent_weights(model, k, n, alpha, params):
    info = get_model(model)
    arch = info.architecture(k)
    x, y = instance(n, round(alpha * arch.n_weights(n)))
    r = learn("sgd-ce", x, y, model=model, k=k, params=params, seed=0)
    assert r.converged and r.train_errors == 0
    assert r.weights.dtype == np.int8 and r.weights.shape == arch.weight_shape(n)
    assert set(np.unique(r.weights)) <= {-1, 1}
    assert reference_errors(arch, r.weights, x, y) == 0


@pytest.mark.parametrize("loss", ["ce", "hinge", "mse"])
def test_each_loss_lowers_its_loss(loss):
    x, y = instance(101, 150, 3)
    trace = []
    learn(
        "sgd-ce", x, y, model=SPHERICAL.name, params={"loss": loss, "epochs": 30},
        seed=0, trace=trace.append,
    )  # fmt: skip
    assert trace[-1]["loss"] < trace[0]["loss"]


def test_gamma_and_lr_follow_their_schedules():
    x, y = instance(101, 180, 4)
    trace = []
    params = {"epochs": 5, "gamma": ["linear", 1.0, 0.5], "lr": ["step", 1.0, 0.5, 2]}
    learn("sgd-ce", x, y, model=SPHERICAL.name, params=params, trace=trace.append)
    assert [t["gamma"] for t in trace] == [1.0, 1.5, 2.0, 2.5, 3.0][: len(trace)]
    assert [t["lr"] for t in trace] == [1.0, 1.0, 0.5, 0.5, 0.25][: len(trace)]


def test_deterministic():
    x, y = instance(101, 40, 5)
    runs = [learn("sgd-ce", x, y, seed=3) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].weights, runs[1].weights)
    assert runs[0].iterations == runs[1].iterations


def test_resumes_bit_for_bit(stop_and_resume):
    """Stop at the 5th safe point (epoch), resume from the saved state: same result."""
    x, y = instance(101, 101, 7)
    info = get_learner("sgd-ce")
    params = info.resolve({"lr": ["exp", 0.5, 0.01]}, SPHERICAL)
    problem = Problem(x, y, SPHERICAL.architecture())
    full, again = stop_and_resume(info, problem, params, seed=3, at=5)
    assert full.iterations > 5
    np.testing.assert_array_equal(again.weights, full.weights)
    assert again.iterations == full.iterations
    assert again.attrs == full.attrs


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lr": -1}, "learner.lr must be > 0, got -1.0"),
        ({"lr": ["linear", 1.0]}, "learner.lr must be a number"),
        ({"batch": 0}, "learner.batch must be >= 1, got 0"),
        ({"gamma": 0}, "learner.gamma must be > 0, got 0.0"),
        ({"loss": "l2"}, "learner.loss must be one of ce, hinge, mse; got 'l2'"),
        ({"init_scale": -0.1}, "learner.init_scale must be > 0, got -0.1"),
    ],
)
def test_bad_parameters_one_line(params, message):
    with pytest.raises(ConfigError) as info:
        LearnerSpec("sgd-ce", params)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_spherical_run_stored_with_float_weights(tmp_path):
    import wfm

    spec = RunSpec(
        model=ModelSpec(SPHERICAL.name, n=101), data=DataSpec("gaussian", alpha=1.0),
        learner=LearnerSpec("sgd-ce"), seed=1,
    )  # fmt: skip
    assert RunSpec.from_dict(spec.to_dict()) == spec
    run = wfm.run(spec, tmp_path / "s.h5")
    w = run.weights
    assert w.dtype == np.float64 and np.dot(w, w) == pytest.approx(101, rel=1e-12)
    assert run.solution.attrs["solved"] and run.solution.attrs["train_errors"] == 0
    assert run.trace["errors"][-1] == 0 and run.trace["epoch"].dtype == np.int64


def test_cli_negative_learning_rate_exits_2(tmp_path, capsys):
    from wfm.cli import main

    code = main(["run", "--learner", "sgd-ce", "--set", "lr=-1", "--out",
                 str(tmp_path / "x.h5")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "learner.lr must be > 0, got -1.0" in err
    assert err.count("\n") == 1 and not (tmp_path / "x.h5").exists()


# ---------------------------------------------------------------- sam
@pytest.mark.parametrize("params", [{"rho": 0.5}, {"rho": 0.05, "adaptive": True}])
def test_sam_solves_the_spherical_perceptron(params):
    x, y = instance(201, 201, 0)
    trace = []
    r = learn("sam", x, y, model=SPHERICAL.name, params=params, trace=trace.append)
    assert r.converged
    assert reference_errors(SPHERICAL.architecture(), r.weights, x, y) == 0
    assert trace[-1]["loss"] < trace[0]["loss"]


def test_sam_with_rho_0_is_sgd_and_rho_changes_the_path():
    x, y = instance(101, 60, 1)
    plain = learn("sgd-ce", x, y, seed=2)
    same = learn("sam", x, y, params={"rho": 0.0}, seed=2)
    other = learn("sam", x, y, params={"rho": 1.0}, seed=2)
    np.testing.assert_array_equal(plain.weights, same.weights)
    assert plain.iterations == same.iterations
    assert other.converged
    assert not np.array_equal(plain.weights, other.weights)


def test_sam_bad_rho_one_line():
    with pytest.raises(ConfigError) as info:
        LearnerSpec("sam", {"rho": -0.1})
    assert str(info.value) == "learner.rho must be >= 0, got -0.1"
