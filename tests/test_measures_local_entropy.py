"""Local entropy of perceptrons and committee/parity machines: BP estimator vs exact
enumeration, bounds, curve naming, validation; EdMC learner and CLI."""

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from wfm._math import binary_entropy
from wfm.kernels.enumerate import count_solutions_by_distance
from wfm.learners import learn
from wfm.measures.local_entropy import (
    BP_DEFAULTS,
    LocalEntropyResult,
    default_lambdas,
    exact_free_entropy,
    local_entropy,
)
from wfm.models import Architecture, get_model

# (N, alpha, seed) of small teacher-student instances; the teacher is the reference
INSTANCES = [(21, 0.2, 0), (23, 0.3, 1), (25, 0.4, 2)]
D_SMALL = 0.05  # compare where BP is accurate: small distances
TOL_S = 0.04  # measured max |S_bp - S_exact| at d <= 0.05: 0.029 (12 instances)
TOL_PHI = 0.03
CURVE_KEYS = {
    "distance",
    "local_entropy",
    "coupling",
    "phi",
    "overlap",
    "overlap_derivative",
    "converged",
    "sweeps",
    "upper_bound",
}


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
    lam = bp.coupling[down]
    phi_x, q_x = exact_free_entropy(counts, lam)
    s_x, d_x = phi_x - lam * q_x, 0.5 * (1 - q_x)
    small = d_x <= D_SMALL
    sel = small & (d_x >= np.nanmin(bp.distance))  # below BP's smallest d: no compare
    if 2 * sel.sum() < small.sum():
        return np.inf, np.max(np.abs(bp.phi[down] - phi_x)[small])
    s_bp = bp.at(d_x[sel]).local_entropy
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
    wrong = dataclasses.replace(bp, local_entropy=bp.phi + bp.coupling * bp.overlap)
    assert deviations(wrong, exact.counts)[0] > 10 * TOL_S
    # wrong sign of the external field: coupling -lambda W~
    flipped = local_entropy(x, y, -w, lambdas=default_lambdas(12))
    assert min(deviations(flipped, exact.counts)) > 10 * TOL_PHI
    # S = phi - lambda (1 - q): Legendre with the distance instead of the overlap
    wrong = dataclasses.replace(
        bp, local_entropy=bp.phi - bp.coupling * (1 - bp.overlap)
    )
    assert deviations(wrong, exact.counts)[0] > 10 * TOL_S


def test_upper_bound_and_totals(pair):
    exact, bp, _ = pair
    n = exact.n
    # exact: counts <= C(N, k) so S <= ln C(N,k)/N <= H2(k/N)
    s, d = exact.local_entropy, exact.distance
    finite = np.isfinite(s)
    assert np.all(s[finite] <= binary_entropy(d[finite]) + 1e-12)
    assert exact.counts.sum() == exact.params["n_solutions"]
    assert exact.total_entropy == pytest.approx(np.log(exact.counts.sum()) / n)
    assert exact.counts[0] == 1  # the reference (teacher) is a solution
    # BP: below H2 up to finite-N Bethe error; lambda = 0 point is the total entropy
    assert np.max(bp.local_entropy - bp.upper_bound) < 0.01
    assert bp.total_entropy == pytest.approx(exact.total_entropy, abs=0.03)
    at0 = np.flatnonzero(bp.coupling == 0)[-1]
    assert bp.local_entropy[at0] == pytest.approx(bp.phi[at0])
    # exact phi(0) is ln(total)/N
    assert exact_free_entropy(exact.counts, [0.0])[0][0] == pytest.approx(
        exact.total_entropy
    )


def test_consistency_diagnostic(pair):
    _, bp, _ = pair
    assert np.all(np.isfinite(bp.overlap_derivative))
    assert bp.consistency < 0.05, bp.consistency


def test_distances_interpolation_and_arrays():
    x, y, w = teacher_instance(23, 0.3, 1)
    r = local_entropy(x, y, w, distances=[0.01, 0.02, 0.05, 0.9])
    assert r.params["interpolated"] and r.scan is not None
    s = r.local_entropy
    assert np.isnan(s[-1]) and not r.converged[-1]  # beyond the scan
    assert np.all(s[:3] > 0) and np.all(np.diff(s[:3]) > 0)
    arrays = r.scan.to_arrays()
    assert set(arrays) == CURVE_KEYS | {"branch"}
    for key, values in arrays.items():
        assert values.shape == r.scan.distance.shape, key
    assert set(r.to_arrays()) == CURVE_KEYS  # the interpolation merges the branches
    assert r.attrs()["method"] == "bp"
    assert all(np.isscalar(v) for v in r.attrs().values())
    e = local_entropy(x, y, w, method="exact", distances=[0.0, 1 / 23])
    assert e.distance.tolist() == [0.0, 1 / 23]


@pytest.mark.parametrize("method", ["bp", "exact"])
def test_every_dataset_is_described(method):
    x, y, w = teacher_instance(21, 0.2, 0)
    kw = {"lambdas": [2.0, 0.0]} if method == "bp" else {}
    r = local_entropy(x, y, w, method=method, **kw)
    described = r.descriptions()
    assert set(described) == set(r.to_arrays())
    assert set(described) >= CURVE_KEYS
    for text, units in described.values():
        assert text and "\n" not in text and isinstance(units, str) and units
    assert described["local_entropy"][1] == "nats per weight"
    assert described["phi"][1] == "nats per weight"
    assert described["distance"][1] == "1"
    assert described["sweeps"][1] == "sweeps"
    if method == "exact":
        assert r.to_arrays()["counts"].sum() == r.params["n_solutions"]


@pytest.mark.parametrize(
    "override, match",
    [
        ({"method": "mc"}, "method must be one of"),
        ({"reference": "short"}, r"reference must have shape \(21,\)"),
        ({"reference": "zeros"}, "reference must be a ±1 array"),
        ({"labels": "zeros"}, "labels must be ±1"),
        ({"tolerance": 1}, "tolerance is not a BP parameter"),
        ({"damping": 1.0}, r"damping must be in \[0, 1\)"),
        ({"max_sweeps": 0}, "max_sweeps must be >= 1"),
        ({"up_scan": "yes"}, "up_scan must be 'auto', True or False"),
        ({"lambdas": [[1.0]]}, "lambdas must be a non-empty 1-D array"),
        ({"lambdas": [np.nan]}, "lambdas must be a non-empty 1-D array"),
        ({"distances": [1.5]}, "distances must be a 1-D array of values in"),
        ({"method": "exact", "eps": 1e-3}, "the exact method takes no BP param"),
        ({"arch": "committee-tree"}, "arch must be a wfm.models.Architecture"),
        ({"arch": Architecture(binary=False)}, "needs binary weights"),
        ({"arch": Architecture(k=3)}, "arch.k must be 1 for a perceptron"),
        ({"arch": Architecture(k=2, hidden=True)}, "N must be a multiple of k=2"),
        (
            {"arch": Architecture(k=3, hidden=True), "kappa": 0.1},
            "kappa must be 0 for a committee/parity machine",
        ),
        ({"kappa": np.inf}, "kappa must be finite"),
    ],
)
def test_validation(override, match):
    x, y, w = teacher_instance(21, 0.2, 0)
    kw = dict(override)
    ref = {"short": w[:-1], "zeros": np.zeros_like(w)}.get(kw.pop("reference", ""), w)
    if kw.pop("labels", None) == "zeros":
        y = np.zeros_like(y)
    with pytest.raises(ValueError, match=match) as info:
        local_entropy(x, y, ref, **kw)
    assert "\n" not in str(info.value)


def _imports(path):
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_measure_is_pure():
    """The measure and the BP states read no files and depend on no learner, store or
    config (the API does the I/O); plot reads curves but imports no kernels."""
    root = Path(__file__).resolve().parents[1] / "wfm"
    banned = ("wfm.learners", "wfm.store", "wfm.config", "h5py")
    for module in ("measures/local_entropy.py", "bpstate.py"):
        bad = {m for m in _imports(root / module) if m.startswith(banned)}
        assert not bad, (module, bad)
    assert not any(m.startswith("wfm.kernels") for m in _imports(root / "plot.py"))


def test_not_converged_is_flagged_and_warned():
    from wfm.errors import BPNotConvergedWarning

    x, y, w = teacher_instance(23, 0.3, 1)
    with pytest.warns(BPNotConvergedWarning, match="kept and flagged"):
        r = local_entropy(x, y, w, lambdas=[2.0, 1.0, 0.0], max_sweeps=1, eps=1e-12)
    assert not r.converged.any() and len(r.distance) == 3


# -------------------------------------------------- committee and parity machines
MACHINE_CASES = [
    ("committee-tree", 3, 21, 6),
    ("parity", 3, 21, 4),
    pytest.param(
        "committee-full",
        3,
        7,
        6,
        marks=pytest.mark.xfail(
            reason="measured: machine BP does not converge at lambda >= 1 on this "
            "n = 7 fully connected instance (3 of 6 couplings)",
            strict=True,
        ),
    ),
]


@pytest.mark.parametrize("model, k, n_in, p", MACHINE_CASES)
@pytest.mark.filterwarnings("ignore::wfm.errors.BPNotConvergedWarning")
def test_machine_bp_vs_exact_enumeration(model, k, n_in, p):
    rng = np.random.default_rng(1)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n_in))
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), size=p)
    # reference: the fBP weights (a solution for the committees)
    ref = learn("fbp", x, labels, model=model, k=k, seed=1).weights
    arch = get_model(model).architecture(k)
    lams = np.array([2.0, 1.5, 1.0, 0.7, 0.5, 0.3])
    le = local_entropy(x, labels, ref, arch=arch, lambdas=lams)
    counts = count_solutions_by_distance(x, labels, ref, arch=arch)
    phi, q = exact_free_entropy(counts, lams)
    down = le.branch == 0
    ok = le.converged[down]  # fully connected K=3, n=7: BP oscillates at one coupling
    assert ok.sum() >= 5
    le_phi = le.phi[down][ok]
    le_q = le.overlap[down][ok]
    le_fd = le.overlap_derivative[down][ok]
    # Gaussian input factors with 7-21 inputs: O(1/n) errors (measured <= 0.04 for
    # random references, <= 0.017 for fBP solutions)
    np.testing.assert_allclose(le_phi, phi[ok], atol=0.03)
    np.testing.assert_allclose(le_q, q[ok], atol=0.03)
    # Bethe stationarity: dφ/dλ = q at a fixed point
    np.testing.assert_allclose(le_fd, le_q, atol=0.03)
    assert le.n == ref.size
    # the machine family's BP defaults, not the perceptron's
    assert le.params["damping"] == BP_DEFAULTS["machine"]["damping"] == 0.3
    assert le.params["shards"] == BP_DEFAULTS["machine"]["shards"] == 1
    assert le.params["hidden"] and le.params["k"] == k


@pytest.mark.parametrize("model", ["committee-tree", "committee-full", "parity"])
def test_machine_exact_method_and_reference_shapes(model):
    rng = np.random.default_rng(4)
    k, n_in = 3, (5 if model == "committee-full" else 9)
    arch = get_model(model).architecture(k)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(3, n_in))
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), size=3)
    ref = rng.choice(np.array([-1, 1], dtype=np.int8), size=arch.weight_shape(n_in))
    exact = local_entropy(x, labels, ref, arch=arch, method="exact")
    counts = count_solutions_by_distance(x, labels, ref, arch=arch)
    np.testing.assert_array_equal(exact.counts, counts)
    assert exact.n == arch.n_weights(n_in)
    assert counts.sum() > 0
    # the stored shape, flat and (K, n) blocks name the same reference
    for shaped in (ref.reshape(-1), ref.reshape(k, arch.fan_in(n_in))):
        r = local_entropy(x, labels, shaped, arch=arch, method="exact")
        np.testing.assert_array_equal(r.counts, counts)
    with pytest.raises(ValueError, match="reference must have shape"):
        local_entropy(x, labels, ref.reshape(-1)[:-1], arch=arch)


@pytest.mark.filterwarnings("ignore::wfm.errors.BPNotConvergedWarning")
def test_machine_up_scan_is_the_shared_scan():
    """The up-scan from fresh messages (automatic for a frozen reference) is the same
    code for machines: forced on, it appends an upward branch from lambda = 0."""
    rng = np.random.default_rng(0)
    arch = get_model("committee-tree").architecture(3)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(6, 21))
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), size=6)
    ref = rng.choice(np.array([-1, 1], dtype=np.int8), size=21)
    lams = [3.0, 1.0]
    r = local_entropy(x, labels, ref, arch=arch, lambdas=lams, up_scan=True)
    assert r.branch.tolist() == [0, 0, 1, 1, 1]
    assert r.coupling[2:].tolist() == [0.0, 1.0, 3.0]
    assert r.params["up_scan"]
    off = local_entropy(x, labels, ref, arch=arch, lambdas=lams, up_scan=False)
    assert off.branch.tolist() == [0, 0]
    np.testing.assert_array_equal(off.phi, r.phi[:2])


# ------------------------------------------------------------------ EdMC learner
@pytest.mark.slow
def test_typical_teacher_far_below_fbp_like_solution():
    """N=201 teacher-student, alpha=0.5: teacher (typical) below the EdMC solution."""
    x, y, w = teacher_instance(201, 0.5, 3)
    sol = learn("entropy-mc", x, y, seed=0)
    assert sol.converged
    d = [0.02, 0.05]
    s_teacher = local_entropy(x, y, w, distances=d).local_entropy
    s_sol = local_entropy(x, y, sol.weights, distances=d).local_entropy
    assert np.all(s_sol > s_teacher)
