"""Focusing BP and plain BP as learners: protocols, solutions, entropy vs theory."""

import math

import numpy as np
import pytest
from conftest import random_instance

from wfm import theory
from wfm.learners import learn
from wfm.learners.protocols import focusing_protocol
from wfm.models import committee, parity
from wfm.models.perceptron import train_errors


def test_standard_reinforcement_protocol():
    steps = focusing_protocol("standard", dr=0.25)
    assert [y for _, y in steps] == pytest.approx([1.0, 4 / 3, 2.0, 4.0])
    assert all(math.isinf(g) for g, _ in steps)


def test_pseudo_reinforcement_protocol():
    steps = focusing_protocol("pseudo", dr=0.25)
    rho = np.array([0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose([g for g, _ in steps], np.arctanh(np.sqrt(rho)))
    np.testing.assert_allclose([y for _, y in steps], (2 - rho) / (1 - rho))
    # x = 0 is standard reinforcement in y
    ys = [y for _, y in focusing_protocol("pseudo", dr=0.25, x=0.0)]
    np.testing.assert_allclose(ys, 1 / (1 - rho))


def test_scoping_and_free_protocols():
    steps = focusing_protocol(
        "scoping", y=5, gamma_start=0.5, gamma_step=0.5, gamma_stop=2.0
    )
    assert steps == [(0.5, 5.0), (1.0, 5.0), (1.5, 5.0), (2.0, 5.0)]
    assert focusing_protocol("free", schedule=[[1, 2], [3, 4]]) == [
        (1.0, 2.0),
        (3.0, 4.0),
    ]
    with pytest.raises(ValueError, match="unknown protocol"):
        focusing_protocol("annealing")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fbp_finds_zero_error_solution(seed, make_instance):
    patterns, labels = make_instance(301, 0.5, seed)
    res = learn("fbp", patterns, labels, params={"dr": 0.01}, seed=1000)
    assert res.converged
    assert res.train_errors == 0
    # checked independently with the numpy model
    assert train_errors(res.weights, patterns, labels) == 0
    assert res.weights.dtype == np.int8 and set(np.unique(res.weights)) <= {-1, 1}


def test_fbp_trace_and_reproducibility(make_instance):
    records = []
    patterns, labels = make_instance(201, 0.4, 7)
    params = {"dr": 0.01}
    a = learn("fbp", patterns, labels, params=params, seed=3, trace=records.append)
    b = learn("fbp", patterns, labels, params=params, seed=3)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.iterations == b.iterations == len(records)
    assert records[-1]["errors"] == 0
    assert [r["iteration"] for r in records] == list(range(1, len(records) + 1))


def test_fbp_reports_failure_honestly(make_instance):
    """Above capacity no zero-error solution exists: fBP must say so."""
    patterns, labels = make_instance(101, 1.2, 0)
    res = learn("fbp", patterns, labels, params={"dr": 0.05}, seed=1000)
    assert not res.converged
    assert res.train_errors == train_errors(res.weights, patterns, labels) > 0


def test_plain_bp_free_entropy_small_alpha(make_instance):
    """At alpha -> 0 every configuration is a solution: phi -> ln 2."""
    patterns, labels = make_instance(401, 0.01, 0)
    res = learn("bp", patterns, labels, seed=1000)
    assert res.attrs["bp_converged"]
    s = theory.gardner_entropy(0.01).value
    assert res.attrs["free_entropy"] == pytest.approx(s, abs=3e-3)
    assert res.attrs["free_entropy"] < math.log(2)


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.3, 0.5])
def test_bethe_entropy_agrees_with_replica_theory(alpha, make_instance):
    """Averaged over instances at N = 1001, BP's entropy matches the RS Gardner
    entropy to ~0.01 (science.md §2). Measured: alpha 0.3 -> 0.472 vs 0.4748;
    alpha 0.5 -> ~0.305 vs 0.3144 (finite-N shift shrinking with N)."""
    values = []
    for seed in range(4):
        patterns, labels = make_instance(1001, alpha, 100 + seed)
        res = learn("bp", patterns, labels, seed=1000)
        assert res.attrs["bp_converged"]
        values.append(res.attrs["free_entropy"])
    rs = theory.gardner_entropy(alpha).value
    assert np.mean(values) == pytest.approx(rs, abs=0.012)


@pytest.mark.slow
def test_fbp_success_rate(make_instance):
    """Smaller version of the issue's check (N = 1001, 10 seeds, see README)."""
    solved = 0
    for seed in range(5):
        patterns, labels = make_instance(501, 0.65, 200 + seed)
        res = learn("fbp", patterns, labels, seed=1000)
        solved += train_errors(res.weights, patterns, labels) == 0
    assert solved >= 4


# ---------------------------------------------------- committee and parity machines
def _solves(model, n, k, alpha, seed, **params):
    n_w = n * k if model == "committee-full" else n
    x, labels = random_instance(n, alpha, seed, n_weights=n_w)
    res = learn("fbp", x, labels, params=params, seed=seed + 1, model=model, k=k)
    if model == "parity":
        errors = parity.train_errors(res.weights, x, labels, k)
    else:
        errors = committee.train_errors(
            res.weights, x, labels, k, model == "committee-full"
        )
    assert errors == res.train_errors
    return errors, res


def test_fbp_solves_small_tree_committee():
    errors, res = _solves("committee-tree", 105, 3, 0.3, 0, shards=1)
    assert errors == 0 and res.converged
    assert res.weights.shape == (105,)


def test_fbp_parity_small_alpha():
    """Parity K = 3 at alpha = 0.05 (P = 5): fBP solves most seeds only.

    A measured limitation, not a target: the hidden-unit messages of the parity
    output factor vanish at the symmetric fixed point (prod of magnetisations ~ 0),
    so success depends on the random start (6 of these 8 seeds; at alpha = 0.1 one
    seed in 8 — see the issue note).
    """
    solved = sum(
        _solves("parity", 105, 3, 0.05, seed, shards=1, randfact=0.1)[0] == 0
        for seed in range(8)
    )
    assert solved >= 5


def test_fbp_solves_small_full_committee():
    errors, res = _solves("committee-full", 101, 3, 0.2, 0, shards=1, randfact=0.1)
    assert errors == 0
    assert res.weights.shape == (3, 101)
    assert res.attrs["hidden_overlaps"].shape == (3, 3)


def test_machine_defaults_replace_the_perceptron_ones():
    from wfm.config import RunSpec

    spec = RunSpec.from_dict(
        {"model": {"name": "committee-full", "n": 21, "k": 3}, "learner": {"dr": 0.01}}
    )
    p = spec.learner.params
    assert p["dr"] == 0.01  # set by the user
    assert p["randfact"] == 0.1  # the machine family's default
    assert RunSpec.from_dict(spec.to_dict()) == spec
    perceptron = RunSpec.from_dict({"model": {"name": "perceptron-binary", "n": 21}})
    assert perceptron.learner.params["randfact"] == 0.01
