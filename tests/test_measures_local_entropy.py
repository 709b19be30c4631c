"""Local entropy: BP estimator vs exact enumeration, bounds, CLI, EdMC learner."""

import dataclasses
import json

import numpy as np
import pytest

from wfm.kernels.enumerate import binary_entropy
from wfm.measures.local_entropy import (
    LocalEntropyResult,
    default_lambdas,
    exact_free_entropy,
    local_entropy,
)

# (N, alpha, seed) of small teacher-student instances; the teacher is the reference
INSTANCES = [(21, 0.2, 0), (23, 0.3, 1), (25, 0.4, 2)]
D_SMALL = 0.05  # compare where BP is accurate: small distances
TOL_S = 0.04  # measured max |S_bp - S_exact| at d <= 0.05: 0.029 (12 instances)
TOL_PHI = 0.03


def teacher_instance(n, alpha, seed):
    rng = np.random.default_rng(seed)
    p = int(round(alpha * n))
    patterns = (2 * rng.integers(0, 2, (p, n)) - 1).astype(np.int8)
    teacher = (2 * rng.integers(0, 2, n) - 1).astype(np.int8)
    labels = np.sign(patterns.astype(int) @ teacher).astype(np.int8)
    return patterns, labels, teacher


@pytest.fixture(scope="module", params=INSTANCES, ids=lambda t: f"N{t[0]}a{t[1]}")
def pair(request):
    x, y, w = teacher_instance(*request.param)
    return (
        local_entropy(x, y, w, method="exact"),
        local_entropy(x, y, w, method="bp"),
        (x, y, w),
    )


def deviations(bp: LocalEntropyResult, counts):
    """max |S_bp(d) - S_exact(d)| and max |phi_bp - phi_exact| at d_exact <= 0.05.

    The exact side is the canonical (Legendre) curve of the exact counts at the same
    couplings: phi(lambda) = (1/N) ln sum_k counts_k e^{lambda (N - 2k)} and
    S = phi - lambda q, d = (1 - q)/2; BP's S is interpolated at those d.
    """
    down = bp.branch == 0
    lam = bp.lam[down]
    phi_x, q_x = exact_free_entropy(counts, lam)
    s_x, d_x = phi_x - lam * q_x, 0.5 * (1 - q_x)
    small = d_x <= D_SMALL
    sel = small & (d_x >= np.nanmin(bp.d))  # below BP's smallest d: no comparison
    if 2 * sel.sum() < small.sum():
        return np.inf, np.max(np.abs(bp.phi[down] - phi_x)[small])
    s_bp = bp.at(d_x[sel]).s
    dev_s = np.max(np.abs(s_bp - s_x[sel]))
    dev_phi = np.max(np.abs(bp.phi[down] - phi_x)[d_x <= D_SMALL])
    return (np.inf if not np.isfinite(dev_s) else dev_s), dev_phi


def test_bp_matches_exact_at_small_distance(pair):
    exact, bp, _ = pair
    dev_s, dev_phi = deviations(bp, exact.counts)
    assert bp.all_converged
    assert dev_s < TOL_S, dev_s
    assert dev_phi < TOL_PHI, dev_phi


def test_broken_estimators_fail_the_comparison(pair):
    exact, bp, (x, y, w) = pair
    # wrong Legendre transform: S = phi + lambda q
    wrong = dataclasses.replace(bp, s=bp.phi + bp.lam * bp.q)
    assert deviations(wrong, exact.counts)[0] > 10 * TOL_S
    # wrong sign of the external field: coupling -lambda W~
    flipped = local_entropy(x, y, -w, lambdas=default_lambdas(12))
    assert min(deviations(flipped, exact.counts)) > 10 * TOL_PHI
    # S = phi - lambda (1 - q): Legendre with the distance instead of the overlap
    wrong = dataclasses.replace(bp, s=bp.phi - bp.lam * (1 - bp.q))
    assert deviations(wrong, exact.counts)[0] > 10 * TOL_S


def test_upper_bound_and_totals(pair):
    exact, bp, _ = pair
    n = exact.n
    # exact: counts <= C(N, k) so S <= ln C(N,k)/N <= H2(k/N)
    finite = np.isfinite(exact.s)
    assert np.all(exact.s[finite] <= binary_entropy(exact.d[finite]) + 1e-12)
    assert exact.counts.sum() == exact.params["n_solutions"]
    assert exact.total_entropy == pytest.approx(np.log(exact.counts.sum()) / n)
    assert exact.counts[0] == 1  # the reference (teacher) is a solution
    # BP: below H2 up to finite-N Bethe error; lambda = 0 point is the total entropy
    assert np.max(bp.s - binary_entropy(bp.d)) < 0.01
    assert bp.total_entropy == pytest.approx(exact.total_entropy, abs=0.03)
    at0 = np.flatnonzero(bp.lam == 0)[-1]
    assert bp.s[at0] == pytest.approx(bp.phi[at0])
    # exact phi(0) is ln(total)/N
    assert exact_free_entropy(exact.counts, [0.0])[0][0] == pytest.approx(
        exact.total_entropy
    )


def test_consistency_diagnostic(pair):
    _, bp, _ = pair
    assert np.all(np.isfinite(bp.q_derivative))
    assert bp.consistency < 0.05, bp.consistency


def test_distances_interpolation_and_arrays():
    x, y, w = teacher_instance(23, 0.3, 1)
    r = local_entropy(x, y, w, distances=[0.01, 0.02, 0.05, 0.9])
    assert r.params["interpolated"] and r.scan is not None
    assert np.isnan(r.s[-1]) and not r.converged[-1]  # beyond the scan
    assert np.all(r.s[:3] > 0) and np.all(np.diff(r.s[:3]) > 0)
    arrays = r.scan.to_arrays()
    for key in ("d", "s", "lambda", "phi", "q", "q_derivative", "converged"):
        assert arrays[key].shape == r.scan.d.shape
    assert r.attrs()["method"] == "bp"
    e = local_entropy(x, y, w, method="exact", distances=[0.0, 1 / 23])
    assert e.d.tolist() == [0.0, 1 / 23]


def test_validation():
    x, y, w = teacher_instance(21, 0.2, 0)
    with pytest.raises(ValueError, match="method must be one of"):
        local_entropy(x, y, w, method="mc")
    with pytest.raises(ValueError, match="reference must have shape"):
        local_entropy(x, y, w[:-1])
    with pytest.raises(ValueError, match="not a BP parameter"):
        local_entropy(x, y, w, tolerance=1)


def test_not_converged_is_flagged_and_warned():
    from wfm.errors import BPNotConvergedWarning

    x, y, w = teacher_instance(23, 0.3, 1)
    with pytest.warns(BPNotConvergedWarning, match="kept and flagged"):
        r = local_entropy(x, y, w, lambdas=[2.0, 1.0, 0.0], max_sweeps=1, eps=1e-12)
    assert not r.converged.any() and len(r.d) == 3


def test_edmc_finds_a_solution_deterministically():
    from wfm.learners import entropy_mc
    from wfm.models.perceptron import train_errors

    rng = np.random.default_rng(7)
    x = (2 * rng.integers(0, 2, (30, 101)) - 1).astype(np.int8)
    y = (2 * rng.integers(0, 2, 30) - 1).astype(np.int8)
    runs = [
        entropy_mc.learn(x, y, params={}, rng=np.random.default_rng(3))
        for _ in range(2)
    ]
    assert runs[0].converged and runs[0].train_errors == 0
    assert train_errors(runs[0].weights, x, y, 0.0) == 0
    assert np.array_equal(runs[0].weights, runs[1].weights)


def test_edmc_params_validated():
    from wfm.config import LearnerSpec
    from wfm.errors import ConfigError

    assert LearnerSpec("entropy-mc").params["temperature"] == 0.0
    with pytest.raises(ConfigError, match="lambda_factor must be > 1"):
        LearnerSpec("entropy-mc", {"lambda_factor": 0.9})


def test_cli_local_entropy_and_plot(tmp_path, capsys):
    from wfm.cli import main
    from wfm.store import open_run

    f = tmp_path / "t.h5"
    args = ["run", "--n", "21", "--alpha", "0.3", "--data", "teacher"]
    assert main([*args, "--learner", "entropy-mc", "--out", str(f), "--quiet"]) == 0
    assert main(["local-entropy", str(f), "--quiet"]) == 0
    assert main(["local-entropy", str(f), "--method", "exact", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["local-entropy", str(f), "--reference", "teacher", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["group"] == "/local_entropy/teacher"
    run = open_run(f)
    g = run.group("/local_entropy/solution")
    assert g.attrs["method"] == "bp" and g.attrs["N"] == 21
    for key in ("d", "s", "lambda", "phi", "converged"):
        assert key in g.arrays
    assert run.group("/local_entropy/solution_exact").attrs["method"] == "exact"
    png = tmp_path / "fig.png"
    assert main(["plot", str(f), "--out", str(png), "--quiet"]) == 0
    assert png.stat().st_size > 1000
    capsys.readouterr()
    assert main(["local-entropy", str(tmp_path / "missing.h5")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_typical_teacher_far_below_fbp_like_solution():
    """N=201 teacher-student, alpha=0.5: teacher (typical) below the EdMC solution."""
    from wfm.learners import entropy_mc

    x, y, w = teacher_instance(201, 0.5, 3)
    sol = entropy_mc.learn(x, y, params={}, rng=np.random.default_rng(0))
    assert sol.converged
    d = [0.02, 0.05]
    s_teacher = local_entropy(x, y, w, distances=d).s
    s_sol = local_entropy(x, y, sol.weights, distances=d).s
    assert np.all(s_sol > s_teacher)
