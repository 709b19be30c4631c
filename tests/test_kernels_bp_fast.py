"""Fast BP path: each approximation against mpmath/scipy at its stated bound, the fast
sweep against the exact float64 sweep, fBP on the fast path."""

import math

import numba
import numpy as np
import pytest
from scipy.special import erfcx, log_ndtr

from wfm.kernels import approx, bp

mpmath = pytest.importorskip("mpmath")


# harnesses compiled with the fast kernel's flags (reassoc, contract, numpy error
# model) and the approximation inlined, so the tested code is the code the sweep runs
_FLAGS = {"fastmath": bp._FAST_FLAGS, "error_model": "numpy"}


def _apply(fn, x):
    @numba.njit(**_FLAGS)
    def run(x, out):
        for i in range(x.size):
            out[i] = fn(x[i])

    out = np.empty_like(x)
    run(x, out)
    return out


def _edge(fn, a, b):
    @numba.njit(**_FLAGS)
    def run(a, b, g, tg):
        for i in range(a.size):
            g[i], tg[i] = fn(a[i], b[i])

    g, tg = np.empty_like(a), np.empty_like(a)
    run(a, b, g, tg)
    return g, tg


def _edge_mp(a, b):
    """g = (ln H(a - b) - ln H(a + b))/2 (clamped at 30) and tanh g, 40 digits."""
    with mpmath.workdps(40):
        a, b = mpmath.mpf(float(a)), mpmath.mpf(float(b))
        s2 = mpmath.sqrt(2)
        g = (
            mpmath.log(mpmath.erfc((a - b) / s2))
            - mpmath.log(mpmath.erfc((a + b) / s2))
        ) / 2
        g = min(g, mpmath.mpf(bp.FIELD_MAX))
        return float(g), float(mpmath.tanh(g))


def _edge_inputs(rng, k):
    """(a, b) over every regime: bulk, both tails, b -> 0, b large, huge a."""
    a = np.concatenate(
        [
            rng.uniform(-40, 40, k),
            rng.normal(0, 2, k),
            rng.uniform(-1e4, 1e4, k // 10),
            [0.0, 1e-300, -1e-300, 1e7, -1e7, 37.6, -37.6],
        ]
    )
    b = np.concatenate(
        [
            rng.uniform(0, 5, k),
            np.abs(rng.normal(0, 0.05, k)),
            rng.uniform(0, 100, k // 10),
            [0.0, 1e-8, 3.0, 1e3, 0.0, 1e-3, 1e3],
        ]
    )
    return a, b


# ----------------------------------------------------------------- float64
def test_exp_approx_relative_error_4e_16():
    x = np.concatenate([np.linspace(-708, 709, 400_001), np.linspace(-1, 1, 100_001)])
    got = _apply(approx.exp_approx, x)
    assert np.max(np.abs(got / np.exp(x) - 1)) < 4e-16
    # clamped outside, never inf or NaN
    far = _apply(approx.exp_approx, np.array([-1e300, -800.0, 800.0, 1e300]))
    assert np.all(np.isfinite(far)) and far[0] == far[1] > 0


def test_log_approx_error_3e_16():
    x = np.concatenate(
        [np.geomspace(2.3e-308, 1.7e308, 400_001), np.linspace(0.5, 2.0, 100_001)]
    )
    ref = np.log(x)
    got = _apply(approx.log_approx, x)
    assert np.max(np.abs(got - ref) / (np.abs(ref) + 1)) < 3e-16


def test_tanh_approx_abs_error_4e_16():
    x = np.concatenate([np.linspace(-40, 40, 200_001), np.geomspace(1e-300, 1e3, 500)])
    x = np.concatenate([x, -x, [0.0, 1e300, -1e300]])
    got = _apply(approx.tanh_approx, x)
    assert np.max(np.abs(got - np.tanh(x))) < 4e-16


def test_log_erfcx_against_scipy_and_mpmath_5e_15():
    """|error| < 5e-15 (1 + |ln erfcx z|)."""
    z = np.concatenate([np.linspace(0, 30, 300_001), np.geomspace(30, 1e150, 2000)])
    got = _apply(approx.log_erfcx, z)
    ref = np.log(erfcx(z))
    assert np.max(np.abs(got - ref) / (1 + np.abs(ref))) < 5e-15
    zs = np.concatenate([np.geomspace(1e-6, 1e8, 150), [0.0, 0.5, 1.0, 2.0, 26.5]])
    with mpmath.workdps(40):
        ref = np.array(
            [
                float(mpmath.log(mpmath.erfc(v) * mpmath.exp(v * v)))
                for v in map(mpmath.mpf, zs)
            ]
        )
    err = np.abs(_apply(approx.log_erfcx, zs) - ref) / (1 + np.abs(ref))
    assert np.max(err) < 5e-15


def test_log_erfcx_coefficients_regenerate():
    assert approx.fit_log_erfcx(24) == pytest.approx(approx.LOG_ERFCX_COEFFS, abs=1e-18)
    assert approx.fit_log_erfcx(12) == pytest.approx(
        approx.LOG_ERFCX_COEFFS32, abs=1e-18
    )


def test_edge_field_against_mpmath_2e_13():
    rng = np.random.default_rng(0)
    a, b = _edge_inputs(rng, 300)
    g, tg = _edge(approx.edge_field, a, b)
    ref = np.array([_edge_mp(x, y) for x, y in zip(a, b, strict=True)])
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(tg))
    assert np.max(np.abs(g - ref[:, 0])) < 2e-13
    assert np.max(np.abs(tg - ref[:, 1])) < 2e-13
    assert g.max() == bp.FIELD_MAX  # the clamp was hit


def test_edge_field_dense_against_scipy():
    """Dense grid where scipy's log_ndtr difference is itself accurate (|a| < 8)."""
    rng = np.random.default_rng(1)
    a = rng.uniform(-8, 8, 400_000)
    b = np.abs(rng.normal(0, 0.3, 400_000))
    g, tg = _edge(approx.edge_field, a, b)
    ref = np.minimum(0.5 * (log_ndtr(-(a - b)) - log_ndtr(-(a + b))), bp.FIELD_MAX)
    assert np.max(np.abs(g - ref)) < 2e-13
    assert np.max(np.abs(tg - np.tanh(ref))) < 2e-13


def test_edge_field_is_the_exact_kernels_formula():
    """edge_field reproduces the exact path's erfc/log_H evaluation of g."""
    rng = np.random.default_rng(2)
    a, b = _edge_inputs(rng, 2000)
    g, _ = _edge(approx.edge_field, a, b)
    ref = np.minimum(
        0.5
        * np.array(
            [bp.log_H(x - y) - bp.log_H(x + y) for x, y in zip(a, b, strict=True)]
        ),
        bp.FIELD_MAX,
    )
    # log_H differences lose ~|log_H| * 1e-16 in the tails: compare relatively there
    assert np.max(np.abs(g - ref) / (1 + np.abs(a * b))) < 1e-12


# ----------------------------------------------------------------- float32
def test_float32_approximations():
    f32 = np.float32
    x = np.linspace(-87, 88, 400_001).astype(f32)
    got = _apply(approx.exp_approx32, x)
    assert got.dtype == f32
    assert np.max(np.abs(got / np.exp(x.astype(float)) - 1)) < 3e-7
    x = np.concatenate(
        [np.geomspace(1.2e-38, 3e38, 200_001), np.linspace(0.5, 2, 100_001)]
    )
    x = x.astype(f32)
    ref = np.log(x.astype(float))
    assert (
        np.max(np.abs(_apply(approx.log_approx32, x) - ref) / (np.abs(ref) + 1)) < 2e-7
    )
    x = np.linspace(-20, 20, 100_001).astype(f32)
    assert (
        np.max(np.abs(_apply(approx.tanh_approx32, x) - np.tanh(x.astype(float))))
        < 3e-7
    )
    z = np.concatenate([np.linspace(0, 30, 100_001), np.geomspace(30, 1e30, 2000)])
    z = z.astype(f32)
    ref = np.log(erfcx(z.astype(float)))
    assert (
        np.max(np.abs(_apply(approx.log_erfcx32, z) - ref) / (np.abs(ref) + 1)) < 2e-7
    )


def test_edge_field32_against_float64():
    """|g32 - g| < 4e-7 (|g| + 1), |tanh g32 - tanh g| < 5e-7, at float32 inputs."""
    rng = np.random.default_rng(3)
    a, b = _edge_inputs(rng, 100_000)
    a, b = a.astype(np.float32), b.astype(np.float32)
    g32, tg32 = _edge(approx.edge_field32, a, b)
    g, tg = _edge(approx.edge_field, a.astype(float), b.astype(float))
    assert g32.dtype == np.float32
    assert np.all(np.isfinite(g32)) and np.all(np.isfinite(tg32))
    assert np.max(np.abs(g32 - g) / (np.abs(g) + 1)) < 4e-7
    assert np.max(np.abs(tg32 - tg)) < 5e-7


# ----------------------------------------------------------------- the fast sweep
def _instance(rng, p, n, *, gaussian=False, field_scale=0.1):
    if gaussian:
        s = rng.normal(size=(p, n))
    else:
        s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    u = rng.normal(0.0, field_scale, (p, n))
    return s, u, np.tanh(u), u.sum(axis=0)


def _sweeps(s, msgs, ext, rng_seed, k, **kw):
    rng = np.random.default_rng(rng_seed)
    out = []
    for _ in range(k):
        out.append(
            bp.bp_sweep(s, *msgs[:3], ext, msgs[3], rng.permutation(s.shape[0]), **kw)
        )
    return out


@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize(
    "gamma, r, damping, kappa",
    [(0.0, 0.0, 0.0, 0.0), (math.inf, 1.5, 0.0, 0.0), (0.7, 3.0, 0.4, 0.3)],
)
def test_fast64_sweep_matches_exact_sweep(shards, gaussian, gamma, r, damping, kappa):
    rng = np.random.default_rng(shards + 10 * gaussian)
    p, n = 37, 61
    s, u, t, U = _instance(rng, p, n, gaussian=gaussian)
    ext = rng.normal(0.0, 1.0, n)
    exact = [a.copy() for a in (u, t, U, np.zeros(n))]
    fast = [a.copy() for a in (u, t, U, np.zeros(n))]
    kw = dict(shards=shards, kappa=kappa, damping=damping, gamma=gamma, r=r)
    d1 = _sweeps(s, exact, ext, 0, 4, **kw)
    d2 = _sweeps(s, fast, ext, 0, 4, fast=True, **kw)
    np.testing.assert_allclose(d2, d1, rtol=0, atol=1e-10)
    for x, y in zip(fast, exact, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-10)


def test_fast_sweep_saturated_fields_no_nan():
    """Saturated messages, huge external fields, tiny cavity variances."""
    rng = np.random.default_rng(3)
    p, n = 25, 41
    s, u, t, U = _instance(rng, p, n, field_scale=25.0)
    u = np.clip(u, -bp.FIELD_MAX, bp.FIELD_MAX)
    t, U = np.tanh(u), u.sum(axis=0)
    ext = rng.choice([-1.0, 1.0], n) * rng.uniform(0, 500, n)
    f = rng.normal(0.0, 50.0, n)
    exact = [a.copy() for a in (u, t, U, f)]
    fast = [a.copy() for a in (u, t, U, f)]
    fast32 = [u.astype(np.float32), t.astype(np.float32), U.copy(), f.copy()]
    kw = dict(shards=2, gamma=math.inf, r=9.0)
    _sweeps(s, exact, ext, 0, 3, **kw)
    _sweeps(s, fast, ext, 0, 3, fast=True, **kw)
    _sweeps(s, fast32, ext, 0, 3, fast=True, **kw)
    for msgs in (fast, fast32):
        assert all(np.all(np.isfinite(a)) for a in msgs)
    # the exact path evaluates 1 - m^2 as 1 - m*m (rounded at saturation), the fast
    # path as 4e/(1+e)^2: equal up to the exact path's rounding of tiny variances
    np.testing.assert_allclose(fast[0], exact[0], rtol=1e-6, atol=1e-6)


def test_fast_parallel_equals_serial_bitwise():
    rng = np.random.default_rng(5)
    s, u, t, U = _instance(rng, 50, 71)
    ext = np.zeros(71)
    for dtype in (np.float64, np.float32):
        a = [u.astype(dtype), t.astype(dtype), U.copy(), np.zeros(71)]
        b = [x.copy() for x in a]
        _sweeps(s, a, ext, 1, 2, shards=4, parallel=True, fast=True, gamma=1.0, r=0.5)
        _sweeps(s, b, ext, 1, 2, shards=4, parallel=False, fast=True, gamma=1.0, r=0.5)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def _bp_fixed_point(s, ext, dtype, fast, sweeps=300):
    p, n = s.shape
    msgs = [np.zeros((p, n), dtype), np.zeros((p, n), dtype), np.zeros(n), np.zeros(n)]
    rng = np.random.default_rng(0)
    for _ in range(sweeps):
        d = bp.bp_sweep(s, *msgs[:3], ext, msgs[3], rng.permutation(p), fast=fast)
        if d < 1e-9:
            break
    return np.tanh(msgs[2] + ext), d


def test_fast32_same_fixed_point_as_float64():
    """Plain BP to its fixed point: float32 messages give the float64 magnetisations
    within 2e-5 (the fixed point's sensitivity times float32's rounding)."""
    rng = np.random.default_rng(11)
    n, p = 201, 60
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    ext = 0.3 * rng.choice([-1.0, 1.0], n)
    m64, d64 = _bp_fixed_point(s, ext, np.float64, False)
    m_fast, _ = _bp_fixed_point(s, ext, np.float64, True)
    m32, d32 = _bp_fixed_point(s, ext, np.float32, True)
    assert d64 < 1e-9 and d32 < 1e-5
    assert np.max(np.abs(m_fast - m64)) < 1e-10
    assert np.max(np.abs(m32 - m64)) < 2e-5


def test_fast32_one_sweep_tolerance():
    """One sweep from the same messages: float32 within 1e-6 (fields, relative)."""
    rng = np.random.default_rng(12)
    s, u, t, U = _instance(rng, 80, 301, field_scale=0.3)
    ext = rng.normal(0, 0.5, 301)
    exact = [u.copy(), t.copy(), U.copy(), np.zeros(301)]
    fast32 = [u.astype(np.float32), t.astype(np.float32), U.copy(), np.zeros(301)]
    _sweeps(s, exact, ext, 0, 1, gamma=1.0, r=1.0, damping=0.5)
    _sweeps(s, fast32, ext, 0, 1, fast=True, gamma=1.0, r=1.0, damping=0.5)
    np.testing.assert_allclose(fast32[0], exact[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast32[2], exact[2], rtol=1e-5, atol=1e-5)


def test_dtype_checks():
    s = np.ones((3, 5), np.int8)
    u = np.zeros((3, 5), np.float32)
    z = np.zeros(5)
    with pytest.raises(TypeError, match="fast=True"):
        bp.bp_sweep(s, u, u.copy(), z, z, z.copy(), np.arange(3))
    with pytest.raises(TypeError, match="one dtype"):
        bp.bp_sweep(s, u, u.astype(float), z, z, z.copy(), np.arange(3), fast=True)


# ----------------------------------------------------------------- fBP, bench, config
@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fbp_fast_path_solves(seed, precision, make_instance):
    from wfm.learners import learn
    from wfm.models.perceptron import train_errors

    patterns, labels = make_instance(301, 0.5, seed)
    params = {"dr": 0.01, "fast": True, "precision": precision}
    res = learn("fbp", patterns, labels, params=params, seed=1000)
    assert res.converged and res.train_errors == 0
    assert train_errors(res.weights, patterns, labels) == 0


def test_fbp_fast32_solves_at_n1001_alpha06(make_instance):
    """N = 1001, alpha = 0.6 with the default protocol (damping 0.5, dr 0.002)."""
    from wfm.learners import learn

    patterns, labels = make_instance(1001, 0.6, 0)
    res = learn(
        "fbp", patterns, labels, params={"fast": True, "precision": "float32"}, seed=0
    )
    assert res.converged


def test_precision_needs_fast():
    from wfm.errors import ConfigError
    from wfm.learners import get_learner

    with pytest.raises(ConfigError, match="precision float32 needs fast"):
        get_learner("fbp").resolve({"precision": "float32"})
    assert get_learner("bp").resolve({"fast": True, "precision": "float32"})["fast"]


def test_bench_bp_reports_fast_paths():
    from wfm.bench import bench_bp, format_bp

    out = bench_bp(n=51, alpha=0.5, sweeps=2, repeats=2, damping=0.5)
    rates = out["edge_updates_per_s"]
    for name in ("numba_serial", "fast64_serial", "fast32_serial", "numpy_reference"):
        assert rates[name] > 0
    assert any(k.startswith("fast32_parallel") for k in rates)
    assert out["speedup_vs_numba_serial"]["numba_serial"] == 1.0
    lo, hi = out["edge_updates_per_s_range"]["fast32_serial"]
    assert lo <= rates["fast32_serial"] <= hi
    assert "fast32_serial" in format_bp(out)


def test_fast32_state_checkpoint_round_trip(make_instance):
    """A float32 fast-path state reloaded from state_dict continues bit-identically."""
    from wfm.bpstate import PerceptronBPState

    patterns, labels = make_instance(61, 0.5, 4)

    def new():
        return PerceptronBPState.new(
            patterns, labels, rng=np.random.default_rng(0), fast=True,
            precision="float32",
        )  # fmt: skip

    a = new()
    assert a.u.dtype == a.t.dtype == np.float32 and a.U.dtype == np.float64
    a.sweep(shards=2, damping=0.5, gamma=math.inf, r=0.5)
    b = new()
    b.load_state_dict(a.state_dict())
    for state in (a, b):
        state.sweep(shards=2, damping=0.5, gamma=math.inf, r=0.6)
    for name in a.MESSAGES:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    with pytest.raises(ValueError, match="fast BP path"):
        PerceptronBPState.new(
            patterns, labels, rng=np.random.default_rng(0), precision="float32"
        )
