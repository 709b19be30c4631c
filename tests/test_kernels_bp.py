"""BP kernel for the binary perceptron: numba vs numpy reference, tails, identities."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfm.kernels import bp


def _instance(rng, p, n, *, gaussian=False, field_scale=0.1):
    if gaussian:
        s = rng.normal(size=(p, n))
    else:
        s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    u = rng.normal(0.0, field_scale, (p, n))
    return s, u, np.tanh(u), u.sum(axis=0)


def test_log_H_matches_scipy_everywhere():
    x = np.concatenate([np.linspace(-40, 40, 4001), np.geomspace(40, 1e6, 200)])
    ours = np.array([bp.log_H(v) for v in x])
    ref = bp.log_H_reference(x)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, ref, rtol=2e-14, atol=1e-15)


@pytest.mark.parametrize("shards", [1, 2, 3])
@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize(
    "gamma, r, damping, kappa",
    [(0.0, 0.0, 0.0, 0.0), (math.inf, 1.5, 0.0, 0.0), (0.7, 3.0, 0.4, 0.3)],
)
def test_sweep_matches_reference(shards, gaussian, gamma, r, damping, kappa):
    rng = np.random.default_rng(shards + 10 * gaussian)
    p, n = 37, 61
    s, u, t, U = _instance(rng, p, n, gaussian=gaussian)
    ext = rng.normal(0.0, 1.0, n)
    f = np.zeros(n)
    ref = [a.copy() for a in (u, t, U, f)]
    for _ in range(4):
        perm = rng.permutation(p)
        d1 = bp.bp_sweep(
            s,
            u,
            t,
            U,
            ext,
            f,
            perm,
            shards=shards,
            kappa=kappa,
            damping=damping,
            gamma=gamma,
            r=r,
        )
        d2 = bp.bp_sweep_reference(
            s,
            *ref[:3],
            ext,
            ref[3],
            perm,
            shards=shards,
            kappa=kappa,
            damping=damping,
            gamma=gamma,
            r=r,
        )
        assert d1 == pytest.approx(d2, abs=1e-10)
    for ours, theirs in zip((u, t, U, f), ref, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    assert np.abs(u).max() > 1e-3  # the messages did move


def test_large_fields_no_nan_and_match_reference():
    """Saturated messages, huge external fields, tiny cavity variances."""
    rng = np.random.default_rng(3)
    p, n = 25, 41
    s, u, t, U = _instance(rng, p, n, field_scale=25.0)
    u = np.clip(u, -bp.FIELD_MAX, bp.FIELD_MAX)
    t, U = np.tanh(u), u.sum(axis=0)
    ext = rng.choice([-1.0, 1.0], n) * rng.uniform(0, 500, n)
    f = rng.normal(0.0, 50.0, n)
    ref = [a.copy() for a in (u, t, U, f)]
    for _ in range(3):
        perm = rng.permutation(p)
        bp.bp_sweep(s, u, t, U, ext, f, perm, shards=2, gamma=math.inf, r=9.0)
        bp.bp_sweep_reference(
            s, *ref[:3], ext, ref[3], perm, shards=2, gamma=math.inf, r=9.0
        )
    for a in (u, t, U, f):
        assert np.all(np.isfinite(a))
    assert np.abs(u).max() == pytest.approx(bp.FIELD_MAX)  # clamps were hit
    for ours, theirs in zip((u, t, U), ref[:3], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-10)
    phi = bp.bethe_free_entropy(s, u, U, ext, f)
    assert np.isfinite(phi)


def test_parallel_equals_serial_bitwise():
    rng = np.random.default_rng(5)
    s, u, t, U = _instance(rng, 50, 71)
    ext, f = np.zeros(71), np.zeros(71)
    a = [x.copy() for x in (u, t, U, f)]
    b = [x.copy() for x in (u, t, U, f)]
    perm = rng.permutation(50)
    bp.bp_sweep(
        s,
        a[0],
        a[1],
        a[2],
        ext,
        a[3],
        perm,
        shards=4,
        parallel=True,
        gamma=math.inf,
        r=0.5,
    )
    bp.bp_sweep(
        s,
        b[0],
        b[1],
        b[2],
        ext,
        b[3],
        perm,
        shards=4,
        parallel=False,
        gamma=math.inf,
        r=0.5,
    )
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_default_shards_and_the_two_compilations():
    from wfm._numba import (
        DEFAULT_SHARDS,
        default_shards,
        njit,
        pnjit,
        prange,
        serial_and_parallel,
    )

    assert default_shards(1) == default_shards(199) == 1
    assert default_shards(200) == default_shards(10**6) == DEFAULT_SHARDS
    made = serial_and_parallel(lambda jit, loop: (jit, loop))
    assert made == ((njit, range), (pnjit, prange))
    assert bp._sweep_serial is not bp._sweep_parallel


@settings(max_examples=40, deadline=None)
@given(h=st.floats(-60, 60), gamma=st.floats(0.01, 8.0), r=st.floats(0.0, 20.0))
def test_focusing_field_closed_form(h, gamma, r):
    """atanh(p tanh(r atanh(p tanh h))) with p = tanh(gamma), where it is computable."""
    got = bp.focusing_field(h, gamma, r)
    p = math.tanh(gamma)
    inner = p * math.tanh(h)
    outer = p * math.tanh(r * math.atanh(inner)) if abs(inner) < 1 else None
    if outer is not None and abs(outer) < 1 - 1e-9:
        assert got == pytest.approx(math.atanh(outer), rel=1e-7, abs=1e-9)
    assert abs(got) <= gamma + 1e-9  # the focusing message is bounded by tanh(gamma)


def test_focusing_field_limits():
    assert bp.focusing_field(0.7, math.inf, 2.0) == pytest.approx(1.4)  # y h
    assert bp.focusing_field(0.7, 3.0, 0.0) == 0.0  # y = 1: plain BP
    assert bp.focusing_field(0.7, 0.0, 5.0) == 0.0  # gamma = 0: plain BP
    # large gamma approaches reinforcement
    assert bp.focusing_field(0.3, 40.0, 2.0) == pytest.approx(0.6, rel=1e-9)


def test_bethe_free_entropy_matches_reference():
    rng = np.random.default_rng(8)
    s, u, t, U = _instance(rng, 30, 51, field_scale=0.5)
    ext = rng.normal(0.0, 2.0, 51)
    f = rng.normal(0.0, 1.0, 51)
    ours = bp.bethe_free_entropy(s, u, U, ext, f, kappa=0.2)
    ref = bp.bethe_free_entropy_reference(s, u, U, ext, f, kappa=0.2)
    assert ours == pytest.approx(ref, abs=1e-12)


def test_bethe_free_entropy_without_patterns_is_exact():
    """P = 0: Z = prod_i 2cosh(ext_i) exactly."""
    rng = np.random.default_rng(9)
    n = 33
    ext = rng.normal(0.0, 3.0, n)
    s = np.zeros((0, n), dtype=np.int8)
    phi = bp.bethe_free_entropy(s, np.zeros((0, n)), np.zeros(n), ext)
    assert phi == pytest.approx(np.mean(np.log(2 * np.cosh(ext))), abs=1e-13)


def _converged_state(s, ext, rng, sweeps=200):
    p, n = s.shape
    u = np.zeros((p, n))
    t, U, f = np.zeros((p, n)), np.zeros(n), np.zeros(n)
    for _ in range(sweeps):
        if bp.bp_sweep(s, u, t, U, ext, f, rng.permutation(p), shards=1) < 1e-12:
            break
    return u, U


def test_free_entropy_derivative_is_overlap():
    """d phi / d lambda = <W . W~>/N at a BP fixed point (Bethe stationarity).

    Exact stationarity is broken at O(1/N) by the Gaussian approximation (the factor
    term uses the full Gaussian, the messages the cavity one): ~1e-5 at N = 201. A
    wrong sign or a missing edge term would be off by O(0.1).
    """
    rng = np.random.default_rng(11)
    n, p = 201, 60
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    ref = rng.choice([-1.0, 1.0], n)
    lam, h = 0.3, 1e-4
    phis = []
    for lv in (lam - h, lam + h):
        u, U = _converged_state(s, lv * ref, np.random.default_rng(0))
        phis.append(bp.bethe_free_entropy(s, u, U, lv * ref))
    u, U = _converged_state(s, lam * ref, np.random.default_rng(0))
    q = np.mean(np.tanh(U + lam * ref) * ref)
    assert (phis[1] - phis[0]) / (2 * h) == pytest.approx(q, abs=1e-4)


def test_count_errors_matches_numpy():
    rng = np.random.default_rng(4)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(80, 31))
    w = rng.choice(np.array([-1, 1], dtype=np.int8), 31)
    stab = s.astype(float) @ w / np.sqrt(31)
    for kappa in (0.0, 0.5):
        assert bp.count_errors(s, w, kappa) == int(np.sum(stab <= kappa))


def test_fast_tanh_accuracy():
    x = np.concatenate([np.linspace(-40, 40, 20001), np.geomspace(1e-300, 1e3, 500)])
    x = np.concatenate([x, -x])
    ours = np.array([bp.fast_tanh(v) for v in x])
    ref = np.tanh(x)
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=3e-16)
