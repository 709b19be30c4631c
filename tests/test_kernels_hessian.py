"""Hessian-vector products: numba vs numpy, vs finite differences of the gradient, vs
the dense Hessian, and the perceptron's closed form."""

import math
import zlib

import numpy as np
import pytest

from wfm.kernels import hessian as hs
from wfm.kernels import sgd

# (name, fully_connected, weight shape, number of inputs)
MODELS = {
    "perceptron": (False, (13,), 13),
    "tree": (False, (3, 5), 15),
    "fully_connected": (True, (3, 9), 9),
}
LOSSES = [("ce", 2.0), ("ce", 0.3), ("hinge", 1.0), ("mse", 1.0)]


def _seed(*args):
    return zlib.crc32(repr(args).encode())


def _cases():
    for model in MODELS:
        acts = ["linear"] if model == "perceptron" else ["tanh", "relu", "linear"]
        for act in acts:
            for loss in LOSSES:
                yield model, act, loss


def _instance(model, act, loss, ints=True, p=40):
    fc, shape, n_inputs = MODELS[model]
    rng = np.random.default_rng(_seed(model, act, loss, ints))
    w = rng.normal(size=shape)
    if ints:
        x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n_inputs))
    else:
        x = rng.normal(size=(p, n_inputs))
    labels = rng.choice(np.array([-1.0, 1.0]), size=p)
    opts = {"loss": loss[0], "gamma": loss[1], "fully_connected": fc,
            "activation": act}  # fmt: skip
    return rng, w, x, labels, opts


@pytest.mark.parametrize("ints", [True, False])
@pytest.mark.parametrize(("model", "act", "loss"), list(_cases()))
def test_hvp_matches_reference_and_dense(model, act, loss, ints):
    rng, w, x, labels, opts = _instance(model, act, loss, ints)
    v = rng.normal(size=w.shape)
    ref = hs.hvp_point_reference(w, x, labels, **opts)
    dense = hs.exact_hessian(ref)
    expect = hs.hvp_reference(ref, v)
    assert np.allclose(dense, dense.T, atol=1e-14)
    np.testing.assert_allclose(dense @ v.ravel(), expect.ravel(), atol=1e-13)
    for parallel in (True, False):
        point = hs.hvp_point(w, x, labels, parallel=parallel, **opts)
        np.testing.assert_allclose(point.g, ref.g, atol=1e-14)
        np.testing.assert_allclose(point.curvature, ref.curvature, atol=1e-14)
        np.testing.assert_allclose(point.residual, ref.residual, atol=1e-14)
        np.testing.assert_allclose(hs.hvp(point, v), expect, atol=1e-13)


@pytest.mark.parametrize(("model", "act", "loss"), list(_cases()))
def test_hvp_matches_finite_differences_of_the_gradient(model, act, loss):
    rng, w, x, labels, opts = _instance(model, act, loss, ints=False)
    v = rng.normal(size=w.shape)

    def grad(at):
        g = np.empty(w.shape)
        sgd.loss_and_grad(at, x, labels, g, parallel=False, **opts)
        return g

    eps = 1e-5
    fd = (grad(w + eps * v) - grad(w - eps * v)) / (2 * eps)
    hv = hs.hvp(hs.hvp_point(w, x, labels, **opts), v)
    scale = np.abs(fd).max()
    if scale == 0.0:  # hinge with a linear/relu net: zero a.e., also here
        assert np.abs(hv).max() == 0.0
        return
    assert np.abs(fd - hv).max() / scale < 1e-6


def test_exact_hessian_matches_finite_differences_column_by_column():
    rng, w, x, labels, opts = _instance("tree", "tanh", ("ce", 2.0), ints=False)
    dense = hs.exact_hessian(hs.hvp_point_reference(w, x, labels, **opts))
    eps = 1e-5
    cols = []
    for j in range(w.size):
        e = np.zeros(w.size)
        e[j] = eps
        gp, gm = np.empty(w.shape), np.empty(w.shape)
        sgd.loss_and_grad_reference(w + e.reshape(w.shape), x, labels, gp, **opts)
        sgd.loss_and_grad_reference(w - e.reshape(w.shape), x, labels, gm, **opts)
        cols.append(((gp - gm) / (2 * eps)).ravel())
    fd = np.array(cols).T
    assert np.abs(fd - dense).max() / np.abs(dense).max() < 1e-6


@pytest.mark.parametrize("loss", [("ce", 1.5), ("mse", 1.0)])
def test_perceptron_hessian_closed_form(loss):
    """H = (1/(P N)) sum_mu f''(Delta_mu) xi xi^T, Delta = sigma W.xi/sqrt(N)."""
    rng = np.random.default_rng(3)
    n, p = 21, 60
    w = rng.normal(size=n)
    x = rng.choice(np.array([-1.0, 1.0]), size=(p, n))
    labels = rng.choice(np.array([-1.0, 1.0]), size=p)
    delta = labels * (x @ w) / math.sqrt(n)
    if loss[0] == "ce":
        q = 1.0 / (1.0 + np.exp(2 * loss[1] * delta))
        f2 = 2 * loss[1] * q * (1 - q)
    else:
        f2 = np.ones(p)
    closed = np.einsum("p,pi,pj->ij", f2, x, x) / (p * n)
    point = hs.hvp_point(w, x, labels, loss=loss[0], gamma=loss[1])
    np.testing.assert_allclose(hs.exact_hessian(point), closed, atol=1e-14)
    v = rng.normal(size=n)
    np.testing.assert_allclose(hs.hvp(point, v), closed @ v, atol=1e-13)
    # mse: the Hessian is the data covariance, whatever W
    if loss[0] == "mse":
        np.testing.assert_allclose(closed, x.T @ x / (p * n), atol=1e-14)


def test_ce_curvature_has_no_overflow_and_gamma_inf_is_zero():
    x = np.array([[1.0, -1.0, 1.0]])
    w = np.array([400.0, -400.0, 400.0])
    for gamma in (50.0, math.inf):
        point = hs.hvp_point(w, x, np.array([1.0]), gamma=gamma)
        assert np.all(np.isfinite(point.curvature)) and point.curvature[0] == 0.0


def test_hvp_is_bitwise_independent_of_parallelism():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(5, 300))
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(200, 300))
    labels = rng.choice(np.array([-1.0, 1.0]), size=200)
    v = rng.normal(size=w.shape)
    a = hs.hvp(hs.hvp_point(w, x, labels, fully_connected=True), v)
    b = hs.hvp(hs.hvp_point(w, x, labels, fully_connected=True, parallel=False), v)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"activation": "sign"}, "activation must be one of"),
        ({"loss": "l1"}, "loss must be one of"),
        ({"gamma": 0.0}, "gamma must be > 0"),
        ({"readout": np.ones(2)}, "readout must have shape"),
    ],
)
def test_bad_input(kwargs, match):
    w = np.ones((3, 4))
    x = np.ones((5, 4))
    with pytest.raises(ValueError, match=match):
        hs.hvp_point(w, x, np.ones(5), fully_connected=True, **kwargs)


def test_bad_vector_size():
    point = hs.hvp_point(np.ones(4), np.ones((5, 4)), np.ones(5))
    with pytest.raises(ValueError, match="v must have 4 entries"):
        hs.hvp(point, np.ones(3))
