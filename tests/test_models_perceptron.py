"""Tests of the numpy perceptron reference against explicit loops."""

import math

import numpy as np
import pytest

from wfm.models.perceptron import output, stabilities, train_errors


def loop_stabilities(w, xi, sigma):
    n = len(w)
    return [
        sigma[mu] * sum(float(w[i]) * float(xi[mu, i]) for i in range(n)) / math.sqrt(n)
        for mu in range(len(sigma))
    ]


@pytest.mark.parametrize("gaussian", [False, True])
def test_stabilities_match_explicit_loop(gaussian):
    rng = np.random.default_rng(0)
    n, p = 31, 17
    xi = rng.standard_normal((p, n)) if gaussian else rng.choice([-1, 1], (p, n))
    sigma = rng.choice(np.array([-1, 1], np.int8), p)
    w = rng.choice(np.array([-1, 1], np.int8), n)
    np.testing.assert_allclose(
        stabilities(w, xi, sigma), loop_stabilities(w, xi, sigma), rtol=1e-12
    )


def test_train_errors_counts_stabilities_at_or_below_kappa():
    xi = np.array([[1, 1, 1, 1], [1, -1, -1, 1], [1, 1, -1, 1]], dtype=np.int8)
    w = np.array([1, 1, 1, -1], dtype=np.int8)
    sigma = np.array([1, 1, -1], dtype=np.int8)
    # fields sigma w.xi = 2, -2, 0 over sqrt(4): stabilities 1, -1, 0
    np.testing.assert_array_equal(stabilities(w, xi, sigma), [1.0, -1.0, 0.0])
    assert train_errors(w, xi, sigma) == 2  # a zero stability is an error
    assert train_errors(w, xi, sigma, kappa=1.0) == 3  # <= kappa counts
    assert train_errors(w, xi, sigma, kappa=-1.0) == 1
    assert train_errors(w, xi, sigma, kappa=-1.5) == 0
    np.testing.assert_array_equal(output(w, xi), [1, -1, 1])
    assert output(w, xi).dtype == np.int8
