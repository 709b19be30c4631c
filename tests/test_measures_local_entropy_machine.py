"""Machine local entropy: Bethe φ numba vs numpy, dφ/dλ = q, BP vs exact counts."""

import numpy as np
import pytest

from wfm.kernels import bp_committee as bpc
from wfm.kernels.enumerate import count_solutions_by_distance
from wfm.learners import fbp_machine
from wfm.measures.local_entropy import exact_free_entropy
from wfm.measures.local_entropy_machine import machine_local_entropy

CASES = [
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


@pytest.mark.parametrize("parity, tree", [(False, True), (False, False), (True, True)])
def test_bethe_matches_reference(parity, tree):
    rng = np.random.default_rng(2)
    p, k, n = 9, 3, 7
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, k * n if tree else n))
    labels = rng.choice([-1.0, 1.0], size=p)
    u = rng.normal(0, 0.3, (p, k, n))
    vup, vdn = rng.normal(0, 2, (p, k)), rng.normal(0, 2, (p, k))
    ext = rng.normal(0, 1, (k, n))
    args = (x, labels, n if tree else 0, u, vup, vdn, u.sum(axis=0), ext)
    a = bpc.machine_bethe_free_entropy(*args, parity=parity)
    b = bpc.machine_bethe_free_entropy_reference(*args, parity=parity)
    assert a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("arch, k, n_in, p", CASES)
@pytest.mark.filterwarnings("ignore::wfm.errors.BPNotConvergedWarning")
def test_bp_vs_exact_enumeration(arch, k, n_in, p):
    rng = np.random.default_rng(1)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n_in))
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), size=p)
    # reference: the fBP weights (a solution for the committees)
    ref = fbp_machine.learn(x, labels, params={}, rng=rng, model=arch, k=k).weights
    lams = np.array([2.0, 1.5, 1.0, 0.7, 0.5, 0.3])
    le = machine_local_entropy(x, labels, ref, architecture=arch, k=k, lambdas=lams)
    counts = count_solutions_by_distance(x, labels, ref, architecture=arch, k=k)
    phi, q = exact_free_entropy(counts, lams)
    ok = le.converged  # fully connected K=3, n=7: BP oscillates at one coupling
    assert ok.sum() >= 5
    le_phi, le_q, le_fd, phi, q = (
        le.phi[ok],
        le.q[ok],
        le.q_derivative[ok],
        phi[ok],
        q[ok],
    )
    # Gaussian input factors with 7-21 inputs: O(1/n) errors (measured <= 0.04 for
    # random references, <= 0.017 for fBP solutions)
    np.testing.assert_allclose(le_phi, phi, atol=0.03)
    np.testing.assert_allclose(le_q, q, atol=0.03)
    # Bethe stationarity: dφ/dλ = q at a fixed point
    np.testing.assert_allclose(le_fd, le_q, atol=0.03)
    assert le.n == ref.size
