"""Local energy against exact expectations (Gaussian noise on a perceptron: a normal
CDF per pattern; single flips: an average over the N weights)."""

import math

import numpy as np
import pytest
from scipy.special import ndtr

from wfm.measures.local_energy import local_energy


def _perceptron(seed, n=51, p=80):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n)
    x = rng.normal(size=(p, n))
    labels = np.sign(x @ (w + 0.3 * rng.normal(size=n)))
    return w, x, labels


def _error(x, labels):
    return lambda w: float(np.mean(labels * (x @ w) <= 0))


def test_gaussian_noise_matches_the_exact_expectation():
    w, x, labels = _perceptron(0)
    n = w.size
    delta = labels * (x @ w) / math.sqrt(n)
    spread = np.sqrt((x**2) @ (w**2) / n)
    sigmas = np.array([0.0, 0.1, 0.3, 0.8])
    r = local_energy(
        w, _error(x, labels), sigmas, draws=400, rng=np.random.default_rng(1)
    )
    base = np.mean(delta <= 0)
    assert r.base_error == base and r.delta_error[0] == 0.0
    for j, s in enumerate(sigmas[1:], start=1):
        exact = np.mean(ndtr(-delta / (s * spread))) - base
        assert abs(r.delta_error[j] - exact) < 4 * r.delta_error_stderr[j] + 1e-12
    assert np.all(np.diff(r.delta_error) > 0)  # more noise, more errors here
    assert np.all(np.isnan(r.delta_loss)) and r.mode == "gaussian"


def test_single_flips_match_the_average_over_weights():
    rng = np.random.default_rng(2)
    n, p = 11, 30
    w = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    x = rng.choice(np.array([-1.0, 1.0]), size=(p, n))
    labels = np.sign(x @ w)
    err = _error(x, labels)
    exact = []
    for i in range(n):
        v = w.copy()
        v[i] = -v[i]
        exact.append(err(v))
    r = local_energy(
        w, err, [1.0 / n, 1.0], mode="flip", draws=500, rng=np.random.default_rng(3)
    )
    assert list(r.flips) == [1, n]
    assert abs(r.delta_error[0] - np.mean(exact)) < 4 * r.delta_error_stderr[0]
    # every weight flipped: each stability changes sign (odd N, no zero stability)
    assert r.delta_error[1] == 1.0 and r.delta_error_stderr[1] == 0.0


def test_loss_is_perturbed_with_the_same_draws():
    w, x, labels = _perceptron(4)

    def loss(v):
        return float(
            np.mean(np.logaddexp(0, -2 * labels * (x @ v) / math.sqrt(v.size)))
        )

    r = local_energy(
        w, _error(x, labels), [0.0, 0.5], loss=loss, draws=50,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert r.base_loss == pytest.approx(loss(w))
    assert r.delta_loss[0] == 0.0 and np.isfinite(r.delta_loss_stderr[1])
    arrays, desc = r.to_arrays(), r.descriptions()
    assert set(arrays) == set(desc)


def test_same_seed_same_result():
    w, x, labels = _perceptron(5)
    a = local_energy(
        w, _error(x, labels), [0.2], draws=20, rng=np.random.default_rng(9)
    )
    b = local_energy(
        w, _error(x, labels), [0.2], draws=20, rng=np.random.default_rng(9)
    )
    assert np.array_equal(a.delta_error, b.delta_error)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "uniform"}, "mode must be one of"),
        ({"sigmas": []}, "sigmas must be a non-empty"),
        ({"sigmas": [-0.1]}, "sigmas must be >= 0"),
        ({"sigmas": [1.5], "mode": "flip"}, r"sigmas must be in \[0, 1\]"),
        ({"draws": 0}, "draws must be an integer >= 1"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"sigmas": [0.1]} | kwargs
    sigmas = args.pop("sigmas")
    with pytest.raises(ValueError, match=match):
        local_energy(np.ones(3), lambda w: 0.0, sigmas, **args)
