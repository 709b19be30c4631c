"""Tests of wfm.theory: reference numbers from the literature and exact identities."""

import numpy as np
import pytest
from scipy import integrate

from wfm import theory
from wfm.theory import franz_parisi as fp
from wfm.theory import gardner as gd
from wfm.theory import large_deviation as ld


# ----------------------------------------------------------------------- Gardner
def test_binary_entropy_small_alpha_is_ln2():
    r = theory.gardner_entropy(1e-4)
    assert r.converged
    assert abs(r.value - np.log(2.0)) < 1e-4
    assert theory.gardner_entropy(0.0).value == pytest.approx(np.log(2.0))


def test_binary_capacity_krauth_mezard():
    assert theory.capacity("perceptron-binary") == pytest.approx(0.833, abs=0.002)


@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.8])
def test_binary_saddle_point(alpha):
    r = theory.gardner_entropy(alpha)
    assert r.converged and r.residual < 1e-9
    # stationarity of the functional, by central finite differences
    h = 1e-5
    f = gd.binary_free_entropy
    d_q = (f(r.q + h, r.qhat, alpha) - f(r.q - h, r.qhat, alpha)) / (2 * h)
    d_qh = (f(r.q, r.qhat + h, alpha) - f(r.q, r.qhat - h, alpha)) / (2 * h)
    assert abs(d_q) < 1e-7 and abs(d_qh) < 1e-7
    # and it is a genuine function of (q, qhat): moving away changes the value
    assert abs(f(r.q + 0.05, r.qhat, alpha) - r.value) > 1e-4


def test_entropy_decreases_with_alpha():
    s = [theory.gardner_entropy(a).value for a in (0.1, 0.3, 0.5, 0.7)]
    assert np.all(np.diff(s) < 0)


def _integrated_inverse_capacity(kappa):
    val, _ = integrate.quad(
        lambda t: np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi) * (t + kappa) ** 2,
        -kappa,
        np.inf,
    )
    return 1.0 / val


def test_spherical_capacity_kappa0():
    assert theory.capacity("perceptron-spherical") == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("kappa", [0.0, 0.5, 1.0])
def test_spherical_capacity_three_ways(kappa):
    closed = gd.spherical_capacity(kappa)
    assert closed == pytest.approx(_integrated_inverse_capacity(kappa), rel=1e-9)
    assert gd.spherical_capacity_from_rs(kappa) == pytest.approx(closed, rel=1e-5)
    # the RS overlap grows to 1 as alpha approaches the capacity
    assert gd.gardner_spherical(0.999 * closed, kappa).q > 0.99


def test_spherical_saddle_point():
    r = theory.gardner_entropy(1.0, model="perceptron-spherical")
    assert r.converged and r.value < 0
    h = 1e-6
    f = gd.spherical_free_entropy
    assert abs((f(r.q + h, 1.0) - f(r.q - h, 1.0)) / (2 * h)) < 1e-6


def test_generalization_error():
    e = [theory.generalization_error(a).epsilon for a in (0.5, 1.0, 1.2)]
    assert np.all(np.diff(e) < 0) and 0 < e[-1] < e[0] < 0.5
    assert gd.perfect_generalization_alpha() == pytest.approx(1.245, abs=0.002)
    assert theory.generalization_error(1.3).epsilon == 0.0


# ---------------------------------------------------------------- Franz–Parisi
def test_fp_functional_equals_gardner_at_typical_distance():
    for alpha in (0.3, 0.5):
        g = theory.gardner_entropy(alpha)
        val = fp.fp_functional(g.q, g.q, g.qhat, g.qhat, alpha, g.q, g.qhat)
        assert val == pytest.approx(g.value, abs=1e-9)


@pytest.mark.slow
def test_fp_below_gardner_near_typical_distance():
    alpha = 0.5
    g = theory.gardner_entropy(alpha)
    r = fp.fp_binary(g.typical_distance - 0.01, alpha, gardner=g)
    assert r["converged"] and r["residual"] < 1e-8
    # maximum of the FP curve is at d*, where it equals s(alpha)
    assert r["value"] < g.value
    assert r["value"] > g.value - 1e-3


def test_fp_stationary_in_all_order_parameters():
    alpha = 0.5
    g = theory.gardner_entropy(alpha)
    d = g.typical_distance - 0.03
    p = 1 - 2 * d
    r = fp.fp_binary(d, alpha, gardner=g)
    args = dict(q1=r["q1"], q1h=r["q1hat"], ph=r["phat"], p0=r["p0"], p0h=r["p0hat"])
    h = 1e-5
    for name in args:
        up, dn = dict(args), dict(args)
        up[name] += h
        dn[name] -= h
        fu = fp.fp_functional(p, alpha=alpha, Q=g.q, Qh=g.qhat, **up)
        fd = fp.fp_functional(p, alpha=alpha, Q=g.q, Qh=g.qhat, **dn)
        assert abs((fu - fd) / (2 * h)) < 1e-6, name


def test_fp_curve_negative_at_small_distance():
    # alpha = 0.7: the curve turns positive at d ~ 0.037 (docs/theory.md)
    c = theory.local_entropy_typical(0.7, [0.02, 0.1])
    assert c.converged.all() and np.all(c.residual < 1e-8)
    assert c.local_entropy[0] < 0
    assert 0 < c.local_entropy[1] <= theory.binary_entropy(0.1)
    g = theory.gardner_entropy(0.7)
    assert c.local_entropy[1] < g.value  # maximum at d*, where it equals s(alpha)


@pytest.mark.slow
@pytest.mark.parametrize("alpha, d0", [(0.3, 0.001156), (0.5, 0.007003)])
def test_fp_positive_distance(alpha, d0):
    assert theory.typical_positive_distance(alpha) == pytest.approx(d0, rel=1e-3)


@pytest.mark.slow
def test_fp_negative_at_alpha_half():
    c = theory.local_entropy_typical(0.5, [0.003, 0.2])
    assert c.converged.all()
    assert c.local_entropy[0] < 0
    assert 0 < c.local_entropy[1] <= theory.binary_entropy(0.2)


def test_fp_energetic_dp0_analytic():
    g = theory.gardner_entropy(0.5)
    p, q1, p0, h = 0.6, 0.5, 0.3, 1e-5
    num = (
        fp._energetic(q1, p, g.q, 0.0, p0 + h)[0]
        - fp._energetic(q1, p, g.q, 0.0, p0 - h)[0]
    ) / (2 * h)
    assert fp._energetic_dp0(q1, p, g.q, 0.0, p0) == pytest.approx(num, abs=1e-8)


@pytest.mark.slow
def test_fp_small_alpha_approaches_h2():
    alpha = 0.02
    g = theory.gardner_entropy(alpha)
    d = g.typical_distance - 0.02
    r = fp.fp_binary(d, alpha, gardner=g)
    assert r["converged"]
    h2 = float(theory.binary_entropy(d))
    assert r["value"] <= h2 + 1e-9
    assert r["value"] == pytest.approx(h2, abs=0.02)


# ------------------------------------------------------------- large deviation
LD_GRID = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3]


@pytest.fixture(scope="module")
def ld06():
    return theory.local_entropy_large_deviation(0.6, LD_GRID)


def test_ld_jacobian_matches_finite_differences():
    # analytic Jacobian of the Newton system vs central differences
    for alpha, d, y in (
        (0.6, 0.1, [-0.68, 0.35, 0.39]),
        (0.6, 0.003, [-20.3, 9e-4, 2.9]),
        (0.8, 0.05, [0.4, 0.97, 0.06]),
    ):
        y = np.array(y)
        _, jac, _ = ld._system(y, 1 - 2 * d, alpha, 0.0)
        h = 1e-6
        for k in range(3):
            up, dn = y.copy(), y.copy()
            up[k] += h
            dn[k] -= h
            num = (
                ld._system(up, 1 - 2 * d, alpha, 0.0)[0]
                - ld._system(dn, 1 - 2 * d, alpha, 0.0)[0]
            ) / (2 * h)
            assert np.allclose(jac[:, k], num, rtol=1e-5, atol=1e-8), (d, k)


def test_ld_stationary_in_all_order_parameters():
    alpha = 0.6
    c = theory.local_entropy_large_deviation(alpha, [0.01, 0.05])
    for i, d in enumerate((0.01, 0.05)):
        args = {k: c.order_parameters[k][i] for k in ("q1", "dq1", "q0hat", "dhat")}
        args["rhat"] = c.order_parameters["rhat"][i]
        names = ("q1", "dq1", "q0hat", "dhat", "rhat")
        x = np.array([args[k] for k in names])
        val = ld.ld_functional(1 - 2 * d, *x, alpha)
        assert val == pytest.approx(c.local_entropy[i], abs=1e-12)
        for k in range(5):
            h = 1e-6 * max(1.0, abs(x[k]))
            up, dn = x.copy(), x.copy()
            up[k] += h
            dn[k] -= h
            grad = (
                ld.ld_functional(1 - 2 * d, *up, alpha)
                - ld.ld_functional(1 - 2 * d, *dn, alpha)
            ) / (2 * h)
            assert abs(grad) < 1e-6, (d, names[k], grad)


@pytest.mark.parametrize("alpha", [0.3, 0.6])
def test_ld_starts_at_gardner(alpha):
    # the branch ends at d_c = (1 - E|tanh(sqrt(qh) z)|)/2 with S = s(alpha),
    # and S_LD = s(alpha) for every d >= d_c
    g = theory.gardner_entropy(alpha)
    d_c = ld.critical_distance(alpha)
    e_abs = (
        2
        * integrate.quad(
            lambda z: (
                np.exp(-z * z / 2) / np.sqrt(2 * np.pi) * np.tanh(np.sqrt(g.qhat) * z)
            ),
            0,
            np.inf,
            epsabs=1e-13,
        )[0]
    )
    assert d_c == pytest.approx(0.5 * (1 - e_abs), abs=1e-10)
    r = ld._system(np.array([np.log(g.qhat), 0.0, 0.0]), 1 - 2 * d_c, alpha, 0.0)
    assert np.max(np.abs(r[0])) < 1e-10
    assert r[2]["value"] == pytest.approx(g.value, abs=1e-10)
    c = theory.local_entropy_large_deviation(alpha, [d_c - 1e-3, d_c + 1e-3, 0.45])
    assert c.converged.all()
    assert list(c.order_parameters["regime"]) == [0, 1, 1]
    assert np.allclose(c.local_entropy[1:], g.value)
    assert g.value - 1e-5 < c.local_entropy[0] < g.value
    assert c.attrs()["reference_critical_distance"] == pytest.approx(d_c)


def test_ld_alpha06_converged_and_bounded(ld06):
    c = ld06
    assert c.converged.all()
    assert np.all(c.residual < 1e-8)
    assert c.attrs()["approximation"] == ld.APPROXIMATION
    assert np.all(c.local_entropy <= c.upper_bound + 1e-12)
    # monotone in d, and hugging H2 at small d (dense regions below alpha_U)
    assert np.all(np.diff(c.local_entropy) >= 0)
    ratio = c.local_entropy / c.upper_bound
    assert np.all(np.diff(ratio) <= 1e-12)
    assert ratio[0] > 1 - 1e-9 and ratio[2] > 0.998
    # regression values (docs/theory.md)
    assert c.local_entropy[3] == pytest.approx(0.0540750939, abs=1e-9)
    assert c.local_entropy[5] == pytest.approx(0.1300822560, abs=1e-9)
    assert c.local_entropy[8] == pytest.approx(0.2277849595, abs=1e-9)  # = s(0.6)


def test_ld_above_typical_alpha06(ld06):
    d = [0.02, 0.1]
    fp = theory.local_entropy_typical(0.6, d)
    assert fp.converged.all()
    ldv = ld06.local_entropy[[LD_GRID.index(x) for x in d]]
    assert np.all(ldv >= fp.local_entropy)


def test_ld_path_independent():
    d = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
    down = ld.ld_binary_curve(0.6, d, path="down")
    up = ld.ld_binary_curve(0.6, d, path="up")
    assert down.converged.all() and up.converged.all()
    assert np.max(np.abs(down.local_entropy - up.local_entropy)) < 1e-10
    for k in ("q1", "dhat", "rhat"):
        assert np.allclose(down.order_parameters[k], up.order_parameters[k], atol=1e-8)


@pytest.mark.parametrize("alpha", [0.4, 0.6])
def test_ld_ratio_to_h2_tends_to_one(alpha):
    c = theory.local_entropy_large_deviation(alpha, [0.001, 0.003, 0.01, 0.03])
    assert c.converged.all() and np.all(c.residual < 1e-8)
    ratio = c.local_entropy / c.upper_bound
    assert np.all(np.diff(ratio) < 0)
    assert ratio[0] == pytest.approx(1.0, abs=1e-8)


def test_ld_small_alpha_is_h2():
    c = theory.local_entropy_large_deviation(0.01, [0.05, 0.2])
    assert c.converged.all()
    assert np.allclose(c.local_entropy, c.upper_bound, atol=2e-3)
    assert np.all(c.local_entropy <= c.upper_bound + 1e-12)


def test_ld_degenerate_small_d():
    # q0hat ~ exp(-0.17/d) underflows: S = H2(d) to machine precision
    c = theory.local_entropy_large_deviation(0.4, [1e-5, 1e-3])
    assert c.converged.all()
    assert list(c.order_parameters["regime"]) == [2, 0]
    assert c.local_entropy[0] == float(theory.binary_entropy(1e-5))


def test_ld_non_monotone_regime_flagged():
    # alpha > alpha_U ~ 0.755: rhat < 0 (S decreasing in d) on an interval; those
    # formal solutions are reported, not converged
    c = theory.local_entropy_large_deviation(0.8, [0.002, 0.01, 0.02, 0.1])
    reg = c.order_parameters["regime"]
    assert list(reg) == [0, -1, -1, 0]
    assert list(c.converged) == [True, False, False, True]
    assert np.all(c.residual < 1e-8)
    assert np.all(c.order_parameters["rhat"][reg == -1] < 0)


def test_ld_near_capacity_small_d():
    c = theory.local_entropy_large_deviation(0.83, [0.001, 0.005, 0.1])
    assert c.converged.all() and np.all(c.residual < 1e-8)
    assert np.all(c.local_entropy <= c.upper_bound)


def test_ld_kappa_nonzero():
    kappa = 0.3
    c = theory.local_entropy_large_deviation(0.4, [0.005, 0.05], kappa=kappa)
    assert c.converged.all() and np.all(c.residual < 1e-8)
    fp = theory.local_entropy_typical(0.4, [0.05], kappa=kappa)
    assert c.local_entropy[1] >= fp.local_entropy[0]
    assert np.all(c.local_entropy <= c.upper_bound)


def test_ld_default_grid_timing():
    # issue 14 acceptance: under 1 s per distance, the default grid (the CLI's 12
    # points) under 30 s; measured ~0.2 s for the whole grid on 2 shared cores
    import time

    start = time.perf_counter()
    c = theory.local_entropy_large_deviation(0.6, np.linspace(0.005, 0.3, 12))
    elapsed = time.perf_counter() - start
    assert c.converged.all() and np.all(c.residual < 1e-8)
    assert elapsed < 30.0 and elapsed / 12 < 1.0


@pytest.mark.slow
def test_ld_alpha06_full_range():
    d = np.geomspace(0.001, 0.3, 16)
    c = theory.local_entropy_large_deviation(0.6, d)
    assert c.converged.all() and np.all(c.residual < 1e-8)
    assert np.all(c.local_entropy <= c.upper_bound + 1e-12)
    assert np.all(c.local_entropy > 0)
    fp = theory.local_entropy_typical(0.6, d)
    ok = fp.converged
    # the FP solver does not reliably converge below d ~ 0.003 at alpha = 0.6
    # (docs/theory.md); compare wherever it does (its converged values there are
    # negative, S_LD > 0)
    assert ok[d > 0.004].all()
    assert np.all(c.local_entropy[ok] >= fp.local_entropy[ok])
    up = ld.ld_binary_curve(0.6, d, path="up")
    assert np.max(np.abs(up.local_entropy - c.local_entropy)) < 1e-6


def test_curve_export():
    c = theory.local_entropy_typical(0.5, [0.3])
    arrays = c.to_arrays()
    assert all(np.ndim(v) == 1 for v in arrays.values())
    assert {"distance", "local_entropy", "upper_bound", "q1", "p0hat"} <= set(arrays)
    attrs = c.attrs()
    assert attrs["kind"] == "typical" and attrs["alpha"] == 0.5
    described = c.descriptions()
    assert set(described) == set(arrays)
    assert described["local_entropy"][1] == "nats per weight"
    assert described["q1"][0].startswith("saddle-point order parameter")


def test_binary_entropy_is_the_shared_one():
    from wfm._math import binary_entropy

    assert theory.binary_entropy is binary_entropy


# ------------------------------------------------------------- teacher-student
def test_teacher_curve_equals_ts_entropy_at_typical_distance():
    g = theory.generalization_error(0.5)
    d_star = 0.5 * (1.0 - g.q)
    c = theory.local_entropy_teacher(0.5, [d_star])
    assert c.converged.all()
    assert c.local_entropy[0] == pytest.approx(g.entropy, abs=1e-8)
    assert c.order_parameters["q1"][0] == pytest.approx(g.q, abs=1e-8)


@pytest.mark.slow
def test_teacher_curve_below_h2():
    c = theory.local_entropy_teacher(0.5, [0.01, 0.1])
    assert c.converged.all()
    assert np.all(c.local_entropy < c.upper_bound)
    assert np.all(np.diff(c.local_entropy) > 0)


# --------------------------------------------------- Franz–Parisi, spherical
def test_fps_entropic_schur_complement():
    # ln det of the (s + n) Gram matrix vs the closed form used for s -> 0
    from wfm.theory import franz_parisi_spherical as fps

    Q, q1, p, p0 = 0.4, 0.55, 0.7, 0.3
    for s, n in ((3, 2), (4, 3)):
        m = np.empty((s + n, s + n))
        m[:s, :s] = (1 - Q) * np.eye(s) + Q
        m[s:, s:] = (1 - q1) * np.eye(n) + q1
        u = np.full(s, p0)
        u[0] = p
        m[:s, s:] = u[:, None]
        m[s:, :s] = u[None, :]
        a = m[:s, :s]
        c = u @ np.linalg.solve(a, u)
        closed = (
            np.linalg.slogdet(a)[1]
            + (n - 1) * np.log(1 - q1)
            + np.log(1 - q1 + n * (q1 - c))
        )
        assert np.linalg.slogdet(m)[1] == pytest.approx(closed, abs=1e-12)
    # s = 0 continuation of c = u^T A^-1 u
    c0 = ((p**2 - p0**2) - Q * (p - p0) ** 2 / (1 - Q)) / (1 - Q)
    assert fps._c(p, p0, Q) == pytest.approx(c0, abs=1e-14)


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_fps_equals_gardner_at_typical_overlap(alpha):
    from wfm.theory import franz_parisi_spherical as fps

    g = theory.gardner_entropy(alpha, model="perceptron-spherical")
    Q = g.q
    assert fps.fp_spherical_functional(Q, Q, Q, alpha, Q) == pytest.approx(
        g.value, abs=1e-10
    )
    res, _ = fps._map(Q, 0.0, Q, alpha, 0.0, Q)
    assert np.max(np.abs(res)) < 1e-7  # (Gardner q and FP quadratures differ slightly)


def test_fps_curve_bounds_and_stationarity():
    from wfm.theory import franz_parisi_spherical as fps

    alpha = 0.5
    q = np.array([0.1, 0.5, 0.9, 0.99])
    c = theory.local_entropy_typical(alpha, (1 - q) / 2, model="perceptron-spherical")
    g = theory.gardner_entropy(alpha, model="perceptron-spherical")
    assert c.converged.all() and np.all(c.residual < 1e-8)
    arrays = c.to_arrays()
    bound = 0.5 * np.log(1 - q**2)
    assert np.allclose(arrays["upper_bound"], bound)
    assert np.allclose(arrays["overlap"], q)
    s = c.local_entropy
    assert np.all(s < bound) and np.all(s < g.value)
    # not isolated: S - bound -> 0 like sqrt(1 - q)
    gap = bound - s
    assert gap[3] < gap[2] < gap[1]
    assert gap[2] / gap[3] == pytest.approx(np.sqrt(10), rel=0.15)
    # stationarity in (q1, p0) by central differences
    h = 1e-5
    for i in (1, 2):
        q1, p0 = c.order_parameters["q1"][i], c.order_parameters["p0"][i]
        f = fps.fp_spherical_functional
        d1 = (f(q[i], q1 + h, p0, alpha, g.q) - f(q[i], q1 - h, p0, alpha, g.q)) / 2 / h
        d2 = (f(q[i], q1, p0 + h, alpha, g.q) - f(q[i], q1, p0 - h, alpha, g.q)) / 2 / h
        assert abs(d1) < 1e-6 and abs(d2) < 1e-6
        assert f(q[i], q1, p0, alpha, g.q) == pytest.approx(s[i], abs=1e-12)


def test_fps_small_alpha_approaches_bound():
    q = np.array([0.5, 0.9])
    c = theory.local_entropy_typical(0.01, (1 - q) / 2, model="perceptron-spherical")
    assert c.converged.all()
    bound = 0.5 * np.log(1 - q**2)
    assert np.all(c.local_entropy <= bound)
    assert np.allclose(c.local_entropy, bound, atol=0.03)


# ------------------------------------------------------------ tree machines
def test_machines_k1_is_the_perceptron():
    from wfm.theory import machines as mc

    for q in (0.2, 0.6, 0.9):
        ref = mc._perceptron_energetic(q)
        for kind in ("committee", "parity"):
            assert mc._finite_energetic(q, kind, 1) == pytest.approx(ref, rel=1e-11)
    g = theory.gardner_entropy(0.5, model="committee-tree", k=1)
    assert g.value == pytest.approx(theory.gardner_entropy(0.5).value, abs=1e-9)
    assert theory.capacity("parity", k=1) == pytest.approx(theory.capacity(), abs=1e-8)
    assert theory.capacity("committee-tree-spherical", k=1) == pytest.approx(2.0)
    gs = theory.gardner_entropy(1.0, model="parity-spherical", k=1)
    ref = theory.gardner_entropy(1.0, model="perceptron-spherical")
    assert gs.value == pytest.approx(ref.value, abs=1e-8)


@pytest.mark.parametrize(
    "kind, k", [("committee", 3), ("parity", 2), ("parity", 3), ("committee", np.inf)]
)
def test_machine_energetic_derivative(kind, k):
    from wfm.theory import machines as mc

    for q in (0.3, 0.7):
        g, dg = mc.machine_energetic(q, kind, k)
        h = 1e-5
        num = (
            mc.machine_energetic(q + h, kind, k)[0]
            - mc.machine_energetic(q - h, kind, k)[0]
        ) / (2 * h)
        assert dg == pytest.approx(num, rel=1e-6)
        assert g < 0 and dg < 0


def test_committee_binary_capacity():
    import math

    a3 = theory.capacity("committee-tree", k=3)
    a_inf = theory.capacity("committee-tree", k=math.inf)
    assert a3 == pytest.approx(0.920619, abs=1e-5)
    assert a_inf == pytest.approx(0.946952, abs=1e-5)
    assert theory.capacity() < a3 < a_inf < 1.0  # below the information bound
    r = theory.gardner_entropy(a3, model="committee-tree", k=3)
    assert abs(r.value) < 1e-9
    # small alpha: ln 2; the annealed bound (1 - alpha) ln 2
    assert theory.gardner_entropy(1e-4, model="committee-tree", k=3).value == (
        pytest.approx(np.log(2), abs=1e-4)
    )
    for alpha in (0.3, 0.6):
        s = theory.gardner_entropy(alpha, model="committee-tree", k=3).value
        assert s < (1 - alpha) * np.log(2)


def test_parity_capacities():
    import math

    # spherical, q -> 1: alpha_c = 2/E[min_l z_l^2]; K = 2: E = 1 - 2/pi
    a2 = theory.capacity("parity-spherical", k=2)
    assert a2 == pytest.approx(2.0 / (1.0 - 2.0 / np.pi), rel=1e-8)
    assert theory.capacity("parity-spherical", k=3) == pytest.approx(10.37353, rel=1e-5)
    assert theory.capacity("parity-spherical", k=math.inf) == math.inf
    # binary, K >= 2: the RS solution is q = 0 up to alpha_min > 1, s = (1-a) ln 2
    assert theory.capacity("parity", k=2) == 1.0
    r = theory.gardner_entropy(0.5, model="parity", k=2)
    assert r.q == 0.0 and r.value == pytest.approx(0.5 * np.log(2))
    # above alpha_min the q > 0 branch lies below the annealed value
    r = theory.gardner_entropy(2.0, model="parity-spherical", k=2)
    assert r.q > 0 and r.value < -2.0 * np.log(2)


def test_spherical_machine_alpha_of_q_approaches_limit():
    from wfm.theory import machines as mc

    for model, k in (("committee-tree-spherical", 3), ("parity-spherical", 2)):
        lim = theory.capacity(model, k=k)
        a = [mc._along_q(q, model, k)[0] for q in (0.97, 0.99, 0.995)]
        assert a[0] < a[1] < a[2] < lim
        assert a[2] > 0.97 * lim


@pytest.mark.slow
def test_committee_binary_capacity_increases_with_k():
    import math

    caps = [theory.capacity("committee-tree", k=k) for k in (3, 5, 7, math.inf)]
    assert np.all(np.diff(caps) > 0)
    assert caps[1] == pytest.approx(0.933039, abs=1e-4)
    assert caps[2] == pytest.approx(0.937479, abs=1e-4)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: theory.gardner_entropy(-1.0), "alpha must be >= 0.0, got -1.0"),
        (lambda: theory.gardner_entropy(0.5, model="mlp"), "model must be one of"),
        (lambda: theory.capacity(kappa=float("nan")), "kappa must be finite"),
        (lambda: theory.local_entropy_typical(0.0, [0.1]), "alpha must be > 0.0"),
        (lambda: theory.local_entropy_typical(0.5, [0.6]), "distances must lie"),
        (
            lambda: theory.local_entropy_typical(
                2.5, [0.1], model="perceptron-spherical"
            ),
            "spherical capacity",
        ),
        (lambda: theory.local_entropy_large_deviation(0.5, []), "non-empty"),
        (lambda: theory.capacity("committee-tree"), "needs k"),
        (lambda: theory.capacity("committee-tree", k=4), "odd"),
        (lambda: theory.gardner_entropy(0.5, 0.1, "parity", k=3), "kappa must be 0"),
        (lambda: theory.local_entropy_typical(0.5, [0.1], 0.0, "parity"), "model"),
        (lambda: theory.generalization_error("a"), "alpha must be a real number"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
