"""Hessian estimators against exact spectra: committee nets (eigh of the dense
Hessian) and deep linear networks (closed forms)."""

import numpy as np
import pytest

from wfm.kernels import hessian as hs
from wfm.measures import hessian as mh
from wfm.models import deep_linear as dl


def _net(seed=0, k=3, n=40, p=120, act="tanh"):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(k, n))
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    labels = rng.choice(np.array([-1.0, 1.0]), size=p)
    point = hs.hvp_point(
        w, x, labels, fully_connected=True, activation=act, gamma=2.0, parallel=False
    )
    return point, hs.exact_hessian(point)


def _matvec(point):
    return lambda v: hs.hvp(point, v.reshape(point.shape)).ravel()


# ------------------------------------------------------------ committee nets
def test_exact_spectrum_from_products_matches_dense_eigh():
    point, dense = _net()
    r = mh.exact_spectrum(_matvec(point), point.n_params)
    np.testing.assert_allclose(r.eigenvalues, np.linalg.eigvalsh(dense), atol=1e-12)
    assert r.matvecs == point.n_params and r.n_params == 120


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_lanczos_top_k_matches_eigh(act):
    point, dense = _net(seed=1, act=act)
    exact = np.sort(np.linalg.eigvalsh(dense))[::-1]
    r = mh.top_eigenvalues(_matvec(point), point.n_params, 10)
    assert r.converged
    np.testing.assert_allclose(r.eigenvalues, exact[:10], rtol=0, atol=1e-8 * exact[0])
    assert np.all(r.residuals < 1e-8 * exact[0]) and r.matvecs > 10


def test_hutchinson_within_three_standard_errors_over_seeds():
    point, dense = _net(seed=2)
    exact = float(np.trace(dense))
    z = []
    for seed in range(60):
        r = mh.hutchinson_trace(
            lambda v: dense @ v,
            point.n_params,
            probes=30,
            rng=np.random.default_rng(seed),
        )
        z.append((r.estimate - exact) / r.stderr)
    z = np.abs(np.array(z))
    assert np.mean(z < 3.0) >= 0.95 and z.max() < 5.0


def test_slq_density_integrates_to_one_and_matches_the_exact_histogram():
    point, dense = _net(seed=3, k=3, n=30, p=200)
    lam = np.linalg.eigvalsh(dense)
    n = lam.size
    width = (lam.max() - lam.min()) / 30
    r = mh.slq_density(
        lambda v: dense @ v, n, probes=200, steps=n, width=width,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert abs(r.integral - 1.0) < 1e-6
    exact = np.mean(
        np.exp(-0.5 * ((r.x[:, None] - lam[None, :]) / width) ** 2), axis=1
    ) / (width * np.sqrt(2 * np.pi))
    l1 = np.trapezoid(np.abs(r.density - exact), r.x)
    assert l1 < 0.1  # sampling error of 200 probes; full-length Lanczos is exact
    # each probe's quadrature has unit mass, and its trace is a Hutchinson sample
    np.testing.assert_allclose(r.weights.sum(axis=1), 1.0, atol=1e-10)
    assert abs(r.trace_estimate - lam.sum()) < 0.1 * abs(lam.sum())


def test_slq_short_lanczos_catches_extremes():
    point, dense = _net(seed=4)
    lam = np.linalg.eigvalsh(dense)
    r = mh.slq_density(_matvec(point), lam.size, probes=3, steps=40)
    assert np.nanmax(r.nodes) == pytest.approx(lam.max(), rel=1e-6)
    assert abs(r.integral - 1.0) < 1e-6


# ------------------------------------------------------------ deep linear nets
def _dl_matvec(factors, target):
    shapes = [f.shape for f in factors]

    def mv(v):
        return dl.flatten(dl.hvp(factors, target, dl.unflatten(v, shapes)))

    return mv


def _dl_dense(factors, target):
    n = sum(f.size for f in factors)
    return mh.dense_from_matvec(_dl_matvec(factors, target), n)


@pytest.mark.parametrize("depth", [2, 3])
def test_deep_linear_hvp_matches_finite_differences(depth):
    rng = np.random.default_rng(depth)
    dims = [4, 5, 3, 2][: depth + 1]
    factors = [rng.normal(size=(dims[k + 1], dims[k])) for k in range(depth)]
    target = rng.normal(size=(dims[-1], dims[0]))
    v = [rng.normal(size=f.shape) for f in factors]
    eps = 1e-5
    plus = dl.gradient([f + eps * d for f, d in zip(factors, v, strict=True)], target)
    minus = dl.gradient([f - eps * d for f, d in zip(factors, v, strict=True)], target)
    fd = dl.flatten(plus) - dl.flatten(minus)
    fd /= 2 * eps
    hv = dl.flatten(dl.hvp(factors, target, v))
    assert np.abs(fd - hv).max() / np.abs(hv).max() < 1e-6
    # and the gradient vs finite differences of the loss
    g = dl.flatten(dl.gradient(factors, target))
    x = dl.flatten(factors)
    shapes = [f.shape for f in factors]
    d = rng.normal(size=x.size)
    lp = dl.loss(dl.unflatten(x + eps * d, shapes), target)
    lm = dl.loss(dl.unflatten(x - eps * d, shapes), target)
    assert abs((lp - lm) / (2 * eps) - g @ d) < 1e-6 * abs(g @ d)


def test_depth2_spectrum_closed_form_any_minimiser():
    """Unbalanced, unaligned: W_1 random full column rank, W_2 = A W_1^+."""
    rng = np.random.default_rng(7)
    d0, h, d2 = 4, 6, 3
    target = rng.normal(size=(d2, d0))
    w1 = rng.normal(size=(h, d0)) * np.array([3.0, 1.0, 0.5, 0.2])
    w2 = target @ np.linalg.pinv(w1)
    assert np.allclose(w2 @ w1, target, atol=1e-12)
    dense = _dl_dense([w1, w2], target)
    closed = dl.spectrum_at_minimum(w1, w2)
    lam = np.linalg.eigvalsh(dense)
    np.testing.assert_allclose(lam, closed, atol=1e-10 * closed.max())
    sharp = np.linalg.norm(w1, 2) ** 2 + np.linalg.norm(w2, 2) ** 2
    assert lam[-1] == pytest.approx(sharp, rel=1e-12)
    assert lam.sum() == pytest.approx(dl.trace_at_minimum([w1, w2]), rel=1e-12)


@pytest.mark.parametrize("c", [1.0, 1.5, 3.0])
def test_depth2_sharpness_against_balancedness(c):
    rng = np.random.default_rng(11)
    sigma = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
    factors = dl.aligned_factors(sigma, [c, 1.0 / c], rng)
    target = factors[1] @ factors[0]
    np.testing.assert_allclose(np.linalg.svd(target, compute_uv=False), sigma)
    n = sum(f.size for f in factors)
    mv = _dl_matvec(factors, target)
    expect = dl.balanced_sharpness(sigma.max(), 2, c)
    exact = mh.exact_spectrum(mv, n)
    lanczos = mh.top_eigenvalues(mv, n, 5)
    np.testing.assert_allclose(
        exact.eigenvalues,
        dl.aligned_spectrum([c * np.sqrt(sigma), np.sqrt(sigma) / c]),
        atol=1e-10 * expect,
    )  # fmt: skip
    assert abs(exact.top - expect) < 1e-6 * expect
    assert lanczos.converged and abs(lanczos.eigenvalues[0] - expect) < 1e-6 * expect
    # balanced is the flattest of the family
    assert expect >= 2 * sigma.max() * (1 - 1e-12)
    trace = dl.trace_at_minimum(factors)
    assert trace == pytest.approx(sigma.size * sigma.sum() * (c**2 + c**-2), rel=1e-12)
    r = mh.hutchinson_trace(mv, n, probes=400, rng=np.random.default_rng(0))
    assert abs(r.estimate - trace) < 4 * r.stderr


def test_depth3_balanced_closed_form():
    rng = np.random.default_rng(13)
    sigma = np.array([3.0, 1.0, 0.4, 0.1])
    factors = dl.aligned_factors(sigma, [1.0, 1.0, 1.0], rng)
    target = factors[2] @ factors[1] @ factors[0]
    n = sum(f.size for f in factors)
    mv = _dl_matvec(factors, target)
    expect = dl.balanced_sharpness(sigma.max(), 3)
    root = sigma ** (1 / 3)
    closed = dl.aligned_spectrum([root, root, root])
    exact = mh.exact_spectrum(mv, n)
    np.testing.assert_allclose(exact.eigenvalues, closed, atol=1e-10 * expect)
    assert abs(exact.top - expect) < 1e-6 * expect
    lanczos = mh.top_eigenvalues(mv, n, 3)
    np.testing.assert_allclose(lanczos.eigenvalues, closed[::-1][:3], rtol=1e-8)
    assert exact.trace == pytest.approx(dl.trace_at_minimum(factors), rel=1e-10)


def test_depth3_unbalanced_aligned_closed_form():
    rng = np.random.default_rng(17)
    sigma = np.array([2.0, 1.0, 0.5])
    factors = dl.aligned_factors(sigma, [2.0, 0.25, 2.0], rng)
    target = factors[2] @ factors[1] @ factors[0]
    root = sigma ** (1 / 3)
    closed = dl.aligned_spectrum([2.0 * root, 0.25 * root, 2.0 * root])
    dense = _dl_dense(factors, target)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(dense), closed, atol=1e-9 * closed[-1]
    )
    assert closed[-1] > dl.balanced_sharpness(sigma.max(), 3)


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda mv: mh.top_eigenvalues(mv, 10, 0), "k must be an integer in"),
        (lambda mv: mh.top_eigenvalues(mv, 10, 10), "k must be an integer in"),
        (lambda mv: mh.hutchinson_trace(mv, 10, probes=1), "probes must be"),
        (lambda mv: mh.slq_density(mv, 10, steps=0), "steps must be"),
        (lambda mv: mh.exact_spectrum(mv, 10**5), "exact spectrum needs n <="),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(lambda v: v)
