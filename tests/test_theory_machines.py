"""Local-entropy theory of tree committee / parity machines (issue 14).

Checks: K = 1 reproduces the perceptron exactly; analytic derivatives against finite
differences; the Nishimori point of the teacher curve; the exact start of the
large-deviation branch at the machine's Gardner point; bounds (S <= H2(d),
S_LD <= s(alpha)) and the d -> 0 limit.
"""

import math

import numpy as np
import pytest

from wfm import theory
from wfm.theory import large_deviation as ld
from wfm.theory import machines_ld as ml
from wfm.theory import machines_teacher as mt
from wfm.theory import teacher_student as ts
from wfm.theory.machines import _entropic_binary


# ------------------------------------------------------------- teacher curves
@pytest.mark.parametrize("kind", ["committee", "parity"])
def test_teacher_k1_is_the_perceptron(kind):
    d = [0.02, 0.2]
    ref = ts.ts_binary_curve(0.5, d)
    c = mt.ts_machine_curve(0.5, d, kind, 1)
    assert c.converged.all()
    assert np.allclose(c.local_entropy, ref.local_entropy, atol=1e-9, rtol=0)
    assert np.allclose(c.order_parameters["q1"], ref.order_parameters["q1"], atol=1e-8)


@pytest.mark.parametrize("kind", ["committee", "parity"])
def test_teacher_energetic_derivative(kind):
    for p, q1 in ((0.9, 0.85), (0.6, 0.5)):
        scale = mt._scale(p, q1)
        _, dg = mt.ts_machine_energetic(p, q1, kind, 3, scale=scale)
        h = 1e-5
        up = mt.ts_machine_energetic(p, q1 + h, kind, 3, scale=scale)[0]
        dn = mt.ts_machine_energetic(p, q1 - h, kind, 3, scale=scale)[0]
        assert dg == pytest.approx((up - dn) / (2 * h), rel=1e-7)


def test_teacher_committee_k3_nishimori_point():
    # the curve peaks where the teacher-student saddle point sits: there q1 = p and
    # q1hat = phat (Nishimori) -- both sign changes at the same distance
    d = np.array([0.36, 0.40, 0.44])
    c = theory.local_entropy_teacher(0.5, d, model="committee-tree", k=3)
    assert c.converged.all() and np.all(c.residual < 1e-9)
    op = c.order_parameters
    a = op["q1"] - (1 - 2 * d)
    b = op["q1hat"] - op["phat"]
    assert a[0] < 0 < a[-1] and b[0] < 0 < b[-1]
    root_a = np.interp(0.0, a, d)
    root_b = np.interp(0.0, b, d)
    assert root_a == pytest.approx(root_b, abs=2e-3)
    s = c.local_entropy
    assert s[1] > s[0] and s[1] > s[2]  # the maximum is inside
    assert np.all(s < c.upper_bound)


def test_teacher_committee_k3_bounds_and_small_alpha():
    d = [0.02, 0.1]
    c = theory.local_entropy_teacher(0.5, d, model="committee-tree", k=3)
    assert c.converged.all()
    # regression values (docs/theory.md; BP at N = 1005 within 0.01, README)
    assert c.local_entropy[0] == pytest.approx(0.0207716, abs=1e-6)
    assert c.local_entropy[1] == pytest.approx(0.1627644, abs=1e-6)
    assert np.all(c.local_entropy < c.upper_bound)
    small = theory.local_entropy_teacher(0.01, [0.1], model="committee-tree", k=3)
    assert small.local_entropy[0] <= small.upper_bound[0]
    assert small.local_entropy[0] == pytest.approx(small.upper_bound[0], abs=0.01)


def test_teacher_energetic_large_k_derivative():
    for p, q1 in ((0.9, 0.85), (0.6, 0.5)):
        _, dg = mt.ts_machine_energetic(p, q1, "committee", math.inf)
        h = 1e-5
        up = mt.ts_machine_energetic(p, q1 + h, "committee", math.inf)[0]
        dn = mt.ts_machine_energetic(p, q1 - h, "committee", math.inf)[0]
        assert dg == pytest.approx((up - dn) / (2 * h), rel=1e-6)


def test_teacher_large_k():
    d = np.array([0.05, 0.2])
    par = theory.local_entropy_teacher(0.5, d, model="parity", k=math.inf)
    assert np.allclose(par.local_entropy, theory.binary_entropy(d) - 0.5 * np.log(2))
    com = theory.local_entropy_teacher(0.5, d, model="committee-tree", k=math.inf)
    k3 = theory.local_entropy_teacher(0.5, d, model="committee-tree", k=3)
    assert com.converged.all() and np.all(com.local_entropy < com.upper_bound)
    # K = 3 lies between the perceptron (K = 1) and K -> inf
    k1 = theory.local_entropy_teacher(0.5, d)
    lo = np.minimum(k1.local_entropy, com.local_entropy)
    hi = np.maximum(k1.local_entropy, com.local_entropy)
    assert np.all((lo - 1e-9 <= k3.local_entropy) & (k3.local_entropy <= hi + 1e-9))


# ----------------------------------------------------------- large deviation
def test_ld_machine_k1_energetic_is_the_perceptron():
    for q1, dq in ((0.6, 0.5), (0.95, 15.0)):
        g, i1, gq, _ = ld._energetic(q1, dq, 0.0)
        for kind in ("committee", "parity"):
            g1, gq1, gdq1 = ml._finite_terms(q1, dq, kind, 1)
            assert g1 == pytest.approx(g, abs=1e-12)
            assert gq1 == pytest.approx(gq, abs=1e-9)
            assert gdq1 == pytest.approx(i1 / (2 * (1 - q1)), rel=1e-9)


def test_ld_machine_starts_at_gardner():
    # dq = 0: x* = x0, G_E = G_K(q), q0hat = qhat, Dhat = 0 (heat-equation identity)
    alpha = 0.3
    g = theory.gardner_entropy(alpha, model="committee-tree", k=3)
    e = ml.machine_energetic("committee-tree", 3)
    lq, dh, g_e, _ = e.conjugates(g.q, 0.0, alpha)
    assert np.exp(lq) == pytest.approx(g.qhat, rel=1e-6)
    assert abs(dh) < 1e-6
    assert e.value(g.q, 0.0) == pytest.approx(
        (g.value + 0.5 * g.qhat * (1 - g.q) - _entropic_binary(g.qhat)[0]) / alpha,
        abs=1e-6,
    )


def test_ld_machine_parity_branch_starts_at_half():
    # binary parity, K >= 2: the RS Gardner solution is q = 0 (s = (1 - alpha) ln 2)
    # below alpha_min > 1, so the LD branch has no end point below d = 1/2
    e = ml.machine_energetic("parity", 3)
    assert ld.critical_distance(0.3, e) == 0.5
    assert e.gardner(0.3).value == pytest.approx(0.7 * np.log(2))


def test_ld_machine_large_k_committee():
    d = [0.005, 0.02, 0.05, 0.2]
    c = theory.local_entropy_large_deviation(0.3, d, model="committee-tree", k=math.inf)
    assert c.converged.all() and np.all(c.residual < 1e-8)
    s_alpha = theory.gardner_entropy(0.3, model="committee-tree", k=math.inf).value
    assert np.all(c.local_entropy <= np.minimum(c.upper_bound, s_alpha) + 1e-12)
    ratio = c.local_entropy / c.upper_bound
    assert np.all(np.diff(ratio) < 0) and ratio[0] > 0.9999
    assert c.attrs()["reference_k"] == math.inf
    par = theory.local_entropy_large_deviation(0.3, d, model="parity", k=math.inf)
    assert np.allclose(par.local_entropy, par.upper_bound - 0.3 * np.log(2))


def test_machine_validation():
    with pytest.raises(ValueError, match="typical"):
        theory.local_entropy_typical(0.3, [0.1], model="committee-tree")
    with pytest.raises(ValueError, match="k must be <= 5"):
        theory.local_entropy_large_deviation(0.3, [0.1], model="committee-tree", k=7)
    with pytest.raises(ValueError, match="capacity"):
        theory.local_entropy_large_deviation(0.95, [0.1], model="committee-tree", k=3)
    with pytest.raises(ValueError, match="needs k"):
        theory.local_entropy_teacher(0.3, [0.1], model="parity")


# ------------------------------------------------------------------ CLI / store
def test_cli_machine_local_entropy_stored_and_plotted(tmp_path, capsys):
    import json

    from wfm.cli import main
    from wfm.plot import curves_from_file
    from wfm.store import open_run

    out = tmp_path / "t.h5"
    args = ["theory", "local-entropy", "--model", "committee-tree", "--k"]
    ld_args = ["--kind", "large-deviation", "--distances", "0.02", "0.1"]
    code = main([*args, "inf", "--alpha", "0.3", *ld_args, "--out", str(out), "--json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(stdout)
    assert result["name"] == (
        "local_entropy_large-deviation_committee_tree_kinf_alpha0.3_kappa0"
    )
    assert all(result["arrays"]["converged"])
    code = main([*args, "3", "--alpha", "0.5", "--kind", "teacher",
                 "--distances", "0.1", "--out", str(out), "--json"])  # fmt: skip
    stdout, err = capsys.readouterr()
    assert code == 0, err
    s = json.loads(stdout)["arrays"]["local_entropy"][0]
    assert s == pytest.approx(0.1627644, abs=1e-6)
    group = open_run(out).group(
        "theory/local_entropy_teacher_committee_tree_k3_alpha0.5_kappa0"
    )
    assert group.attrs["model"] == "committee-tree"
    labels = [c["label"] for c in curves_from_file(out)]
    assert any("committee-tree K=3" in lab for lab in labels)
    assert any("committee-tree K=inf" in lab for lab in labels)
    code = main([*args, "3", "--alpha", "0.3", "--kind", "typical"])
    assert code == 2 and "not implemented" in capsys.readouterr().err


# ------------------------------------------------------------- BP vs theory
@pytest.mark.slow
def test_bp_around_committee_teacher_matches_theory():
    """Machine BP around the teacher of a committee-tree K = 3 instance, N = 1005,
    against the teacher curve of the same architecture (the analogue of the
    perceptron's teacher-curve check): within 0.01 where BP converged (README)."""
    from wfm.data import generate
    from wfm.measures.local_entropy import local_entropy
    from wfm.models import get_model
    from wfm.rng import stream

    seed, n, k = 1, 1005, 3  # the instance of `wfm run ... --data teacher --seed 1`
    ds = generate("teacher", 0.5, n, stream(seed, "data"), model="committee-tree", k=k)
    arch = get_model("committee-tree").architecture(k)
    r = local_entropy(
        ds.patterns, ds.labels, ds.teacher, arch=arch, method="bp",
        lambdas=[1.5, 0.9, 0.5, 0.25, 0.0], rng=stream(seed, "local_entropy"),
    )  # fmt: skip
    arrays = r.to_arrays()
    d, s, ok = arrays["distance"], arrays["local_entropy"], arrays["converged"]
    sel = ok & (d > 0.04)
    assert sel.sum() >= 3
    alpha = len(ds.labels) / n
    theory_s = mt.ts_machine_curve(alpha, d[sel], "committee", k).local_entropy
    assert np.max(np.abs(s[sel] - theory_s)) < 0.01
