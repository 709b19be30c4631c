"""The AMP-form focusing learner [issue 12]: solutions on every pattern storage,
honest failures, declared parameters, bit-for-bit resume, runs through the store."""

import math

import numpy as np
import pytest

from wfm import patterns as pt
from wfm.errors import ConfigError
from wfm.learners import Problem, RunContext, get_learner
from wfm.models.perceptron import train_errors
from wfm.params import Param

STORAGES = ("int8", "bits", "hashed")


def run_amp(patterns, labels, params, *, seed=0, trace=None):
    info = get_learner("amp")
    ctx = RunContext(seed=seed, trace_sink=trace)
    return info.load().learn(Problem(patterns, labels), info.resolve(params), ctx)


@pytest.mark.parametrize("storage", STORAGES)
def test_learner_solves_every_storage(storage):
    n, alpha = 401, 0.5
    p = int(round(alpha * n))
    store, labels = pt.random_instance(12, p, n, storage)
    records = []
    res = run_amp(store, labels, {"rate": 0.003}, seed=0, trace=records.append)
    assert res.converged and res.train_errors == 0
    assert res.weights.dtype == np.int8 and res.weights.shape == (n,)
    assert train_errors(res.weights, store.to_int8(), labels) == 0
    assert len(records) == res.iterations
    assert records[-1]["rho"] == pytest.approx(
        1 - math.exp(-0.003 * (res.iterations - 1))
    )
    assert res.attrs["storage"] == storage


def test_learner_int8_array_and_float32_and_focusing():
    n, alpha = 301, 0.5
    store, labels = pt.random_instance(1, int(alpha * n), n, "int8")
    for params in (
        {"dtype": "float32", "storage": "bits", "rate": 0.003},
        {"field": "focusing", "protocol": "pseudo", "dr": 0.003},
        {"field": "focusing", "protocol": "standard", "dr": 0.003},
    ):
        res = run_amp(store.xi, labels, params, seed=1)
        assert res.train_errors == 0, params
        assert train_errors(res.weights, store.xi, labels) == 0


def test_learner_reports_failure_honestly():
    n = 101
    store, labels = pt.random_instance(0, 100, n, "int8")  # alpha ~ 1: no solution
    res = run_amp(store, labels, {"max_iters": 30}, seed=0)
    assert not res.converged and res.iterations == 30
    assert res.train_errors == train_errors(res.weights, store.xi, labels) > 0


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("field", "annealing", "learner.field must be one of"),
        ("rate", 0.0, "learner.rate must be > 0"),
        ("protocol", "scoping", "learner.protocol must be one of"),
        ("dr", 0.0, r"learner.dr must be in \(0, 1\)"),
        ("x", 1.5, r"learner.x must be in \[0, 1\]"),
        ("damping", 1.0, r"learner.damping must be in \[0, 1\)"),
        ("max_iters", 0, "learner.max_iters must be >= 1"),
        ("storage", "hashed", "learner.storage must be one of"),
        ("dtype", "float16", "learner.dtype must be one of"),
        ("randfact", -0.1, r"learner.randfact must be in \[0, 1\)"),
        ("nonsense", 1, "learner.nonsense is not a parameter"),
    ],
)
def test_learner_param_constraints(key, value, message):
    with pytest.raises(ConfigError, match=message):
        get_learner("amp").resolve({key: value})


def test_params_declared():
    info = get_learner("amp")
    assert all(isinstance(p, Param) for p in info.params)
    assert info.resolve({})["rate"] == 0.001
    assert all(p.doc for p in info.params)


def test_resumes_bit_for_bit(stop_and_resume):
    """Stop at the 50th safe point, resume from the saved state: same solution."""
    n, alpha = 301, 0.5
    store, labels = pt.random_instance(4, int(alpha * n), n, "int8")
    info = get_learner("amp")
    params = info.resolve({"rate": 0.003})
    full, again = stop_and_resume(info, Problem(store, labels), params, seed=2, at=50)
    assert full.iterations > 50
    np.testing.assert_array_equal(again.weights, full.weights)
    assert again.iterations == full.iterations


def test_amp_run_through_the_store(tmp_path):
    from wfm.cli import main

    out = tmp_path / "a.h5"
    argv = [
        "run",
        "--learner",
        "amp",
        "--n",
        "301",
        "--alpha",
        "0.5",
        "--out",
        str(out),
    ]
    assert main([*argv, "--quiet", "--set", "rate=0.003"]) == 0
    import wfm

    run = wfm.open_run(out)
    assert run.solved and run.trace["errors"].dtype == np.int64
