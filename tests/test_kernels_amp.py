"""AMP kernels: erfcx, output function, numba vs numpy reference for every storage,
float32 path, free entropy (vs BP), learner and its parameters."""

import math

import numpy as np
import pytest
from scipy.special import erfcx as sp_erfcx
from scipy.special import log_ndtr

from wfm import patterns as pt
from wfm.kernels import amp

STORAGES = ("int8", "bits", "hashed")


# -------------------------------------------------------------------- erfcx
def test_erfcx_matches_scipy_to_1e_13():
    x = np.concatenate(
        [
            -np.geomspace(1e-300, 26.6, 2000),
            np.linspace(-26.0, 40.0, 6601),
            np.geomspace(1e-300, 1e300, 2000),
            [0.0, -0.0, 11.999999, 12.0, 12.000001],
        ]
    )
    ours = np.array([amp.erfcx(v) for v in x])
    np.testing.assert_allclose(ours, sp_erfcx(x), rtol=1e-13, atol=0)


def test_erfcx_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    for x in (
        -26.5,
        -24.4061,
        -10.0,
        -1.5,
        -1e-8,
        0.3,
        1.7,
        5.5,
        11.9,
        12.1,
        26.0,
        1e5,
    ):
        exact = mpmath.exp(mpmath.mpf(x) ** 2) * mpmath.erfc(mpmath.mpf(x))
        assert abs(amp.erfcx(x) / float(exact) - 1.0) < 1e-15


def test_erfcx_edges():
    assert amp.erfcx(-27.0) == math.inf
    assert amp.erfcx(math.inf) == 0.0
    assert amp.erfcx(-math.inf) == math.inf
    assert math.isnan(amp.erfcx(math.nan))


@pytest.mark.parametrize("kappa", [0.0, 0.4])
@pytest.mark.parametrize("sigma", [1.0, -1.0])
def test_output_function_is_derivative_of_log_H(kappa, sigma):
    V, h = 0.37, 1e-5
    for omega in np.linspace(-4.0, 4.0, 17):

        def log_z(w):
            return log_ndtr(-(kappa - sigma * w) / math.sqrt(V))

        g, dg = amp.output_function(omega, V, sigma, kappa)
        assert g == pytest.approx((log_z(omega + h) - log_z(omega - h)) / (2 * h), 1e-7)
        g_plus = amp.output_function(omega + h, V, sigma, kappa)[0]
        g_minus = amp.output_function(omega - h, V, sigma, kappa)[0]
        assert dg == pytest.approx((g_plus - g_minus) / (2 * h), rel=1e-6, abs=1e-9)


def test_output_function_tails_finite():
    for omega in (-1e6, -50.0, 50.0, 1e6):
        g, dg = amp.output_function(omega, 1e-12, 1.0, 0.0)
        assert np.isfinite(g) and np.isfinite(dg)


# ------------------------------------------------------- pattern passes
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("p, n", [(1, 1), (5, 33), (70, 64), (130, 129), (300, 101)])
def test_matvecs_match_dense(storage, p, n):
    store = pt.random_patterns(3, p, n, storage)
    xi = store.to_int8().astype(np.float64)
    rng = np.random.default_rng(0)
    m, g = rng.normal(size=n), rng.normal(size=p)
    for parallel in (False, True):
        np.testing.assert_allclose(
            amp.matvec(store, m, parallel=parallel), xi @ m, rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            amp.rmatvec(store, g, parallel=parallel), xi.T @ g, rtol=0, atol=1e-12
        )


# ---------------------------------------------------------- iteration
def _state(rng, p, n, dtype=np.float64):
    m = 0.5 * (2.0 * rng.random(n) - 1.0)
    g = 0.3 * rng.normal(size=p)
    B = np.arctanh(m)
    ext = 0.2 * rng.normal(size=n)
    f = np.zeros(n)
    return [a.astype(dtype) for a in (m, g, B, ext, f)]


CASES = [
    dict(field="fixed", kappa=0.0, damping=0.0),
    dict(field="fixed", kappa=0.3, damping=0.5),
    dict(field="reinforcement", kappa=0.0, damping=0.5, rho=0.3),
    dict(field="focusing", kappa=0.2, damping=0.4, gamma=0.8, r=2.0),
    dict(field="focusing", kappa=0.0, damping=0.0, gamma=math.inf, r=1.5),
]


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("case", CASES)
def test_iteration_matches_numpy_reference(storage, case):
    p, n = 83, 131
    store, labels = pt.random_instance(21, p, n, storage)
    rng = np.random.default_rng(5)
    ours, ref = _state(rng, p, n), None
    ref = [a.copy() for a in ours]
    for _ in range(6):
        s1 = amp.amp_iteration(store, labels, *ours, **case)
        s2 = amp.amp_iteration_reference(store, labels, *ref, **case)
        assert s1.errors == s2.errors
        for a, b in zip(
            (s1.maxdiff, s1.V, s1.A), (s2.maxdiff, s2.V, s2.A), strict=True
        ):
            assert a == pytest.approx(b, rel=1e-10, abs=1e-12)
        for a, b in zip(ours, ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("storage", STORAGES)
def test_threads_do_not_change_the_result(storage):
    p, n = 1100, 1000  # above PARALLEL_MIN_ENTRIES: threads by default
    assert p * n >= amp.PARALLEL_MIN_ENTRIES
    store, labels = pt.random_instance(4, p, n, storage)
    a = _state(np.random.default_rng(1), p, n)
    b = [x.copy() for x in a]
    for _ in range(3):
        s1 = amp.amp_iteration(store, labels, *a, damping=0.5, parallel=True)
        s2 = amp.amp_iteration(store, labels, *b, damping=0.5, parallel=False)
        assert s1.errors == s2.errors
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-13)


def test_storages_agree_with_each_other():
    p, n = 150, 201
    states = {}
    for storage in STORAGES:
        store, labels = pt.random_instance(8, p, n, storage)
        st = _state(np.random.default_rng(2), p, n)
        for _ in range(10):
            amp.amp_iteration(
                store, labels, *st, damping=0.3, field="reinforcement", rho=0.2
            )
        states[storage] = st
    for storage in ("bits", "hashed"):
        for a, b in zip(states["int8"], states[storage], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("storage", STORAGES)
def test_float32_fast_path(storage):
    """float32 state and products: within 2e-4 of float64 after 5 iterations
    (magnetisations; N = 1001, P = 600), same error counts."""
    p, n = 600, 1001
    store, labels = pt.random_instance(13, p, n, storage)
    s64 = _state(np.random.default_rng(3), p, n)
    s32 = [a.astype(np.float32) for a in s64]
    for _ in range(5):
        r64 = amp.amp_iteration(store, labels, *s64, damping=0.5, kappa=0.1)
        r32 = amp.amp_iteration(store, labels, *s32, damping=0.5, kappa=0.1)
        assert r32.errors == r64.errors
        assert r32.V == pytest.approx(r64.V, rel=1e-5)
    assert all(a.dtype == np.float32 for a in s32)
    np.testing.assert_allclose(s32[0], s64[0], rtol=0, atol=2e-4)  # m
    np.testing.assert_allclose(s32[1], s64[1], rtol=1e-3, atol=2e-4)  # g


def test_stop_at_solution_leaves_state_unchanged():
    p, n = 60, 101
    store, _ = pt.random_instance(1, p, n, "bits")
    teacher = np.where(np.arange(n) % 3 == 0, -1.0, 1.0)
    labels = np.where(amp.matvec(store, teacher) > 0, 1, -1).astype(np.int8)
    st = _state(np.random.default_rng(0), p, n)
    st[0][:] = 0.9 * teacher
    before = [a.copy() for a in st]
    step = amp.amp_iteration(store, labels, *st, stop_at_solution=True)
    assert step.errors == 0
    for a, b in zip(st, before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert amp.amp_iteration(store, labels, *st).errors == 0


def test_iteration_checks_inputs():
    store, labels = pt.random_instance(0, 10, 20, "int8")
    st = _state(np.random.default_rng(0), 10, 20)
    with pytest.raises(TypeError, match="g must be"):
        amp.amp_iteration(store, labels, st[0], st[1][:5], *st[2:])
    with pytest.raises(TypeError, match="B must be"):
        amp.amp_iteration(
            store, labels, st[0], st[1], st[2].astype(np.float32), *st[3:]
        )
    with pytest.raises(TypeError, match="labels must be"):
        amp.amp_iteration(store, labels.astype(np.int64), *st)
    with pytest.raises(ValueError, match="field must be one of"):
        amp.amp_iteration(store, labels, *st, field="annealing")


def test_no_nan_when_magnetisations_saturate():
    p, n = 200, 301
    store, labels = pt.random_instance(2, p, n, "hashed")
    st = _state(np.random.default_rng(0), p, n)
    for _ in range(200):
        amp.amp_iteration(
            store, labels, *st, damping=0.2, field="reinforcement", rho=0.99
        )
    assert all(np.all(np.isfinite(a)) for a in st)


# -------------------------------------------------------------- free entropy
@pytest.mark.parametrize("storage", STORAGES)
def test_free_entropy_matches_reference(storage):
    p, n = 90, 151
    store, labels = pt.random_instance(6, p, n, storage)
    st = _state(np.random.default_rng(4), p, n)
    for _ in range(3):
        amp.amp_iteration(store, labels, *st, kappa=0.2, damping=0.5)
    ours = amp.amp_free_entropy(store, labels, *st, kappa=0.2)
    ref = amp.amp_free_entropy_reference(store, labels, *st, kappa=0.2)
    assert ours == pytest.approx(ref, rel=1e-10, abs=1e-12)


def test_free_entropy_matches_bp():
    """AMP and BP free entropies of the same instance: dense-limit formula."""
    from wfm.learners import learn
    from wfm.learners.amp import amp_entropy

    n, alpha = 401, 0.4
    p = int(round(alpha * n))
    store, labels = pt.random_instance(3, p, n, "int8")
    ours = amp_entropy(store, labels)
    assert ours.converged
    ref = learn("bp", store.xi, labels, seed=0)
    assert ours.free_entropy == pytest.approx(ref.attrs["free_entropy"], abs=1e-3)


def test_free_entropy_no_patterns_limit():
    """alpha -> 0: ln 2 per weight (plus ln cosh of the external field)."""
    from wfm.learners.amp import amp_entropy

    store, labels = pt.random_instance(0, 1, 500, "bits")
    ent = amp_entropy(store, labels)
    assert ent.free_entropy == pytest.approx(
        math.log(2.0) + math.log(0.5) / 500, abs=2e-3
    )


# --------------------------------------------------------------------- bench
def test_bench_amp_smoke():
    out = amp.bench_amp(301, 0.5, min_time=0.01, dtypes=("float64",))
    kinds = [r["storage"] for r in out["rows"]]
    assert kinds == ["int8", "bits", "hashed", "numpy-dense-float64"]
    assert all(r["iters_per_s"] > 0 for r in out["rows"])
    assert out["rows"][0]["bytes_per_iter"] == 2 * out["p"] * 301
    assert out["copy_bandwidth_GBs"] > 0
    with pytest.raises(NotImplementedError):
        amp.bench_amp(301, 0.5, device="cuda")
