"""Committee and parity machines (numpy models) against explicit loops."""

import numpy as np
import pytest

from wfm.kernels import bp_committee as bpc
from wfm.kernels.enumerate import count_solutions_by_distance_reference
from wfm.models import committee, get_model, parity


def _pm1(rng, *shape):
    return (2 * rng.integers(0, 2, size=shape) - 1).astype(np.int8)


def _loop_votes(w, x, k, full):
    """Hidden signs by explicit loops, ``sign(0) = 0``."""
    p, n_in = x.shape
    n = n_in if full else n_in // k
    w = np.asarray(w).reshape(k, n)
    out = np.zeros((p, k), dtype=np.int64)
    for mu in range(p):
        for l in range(k):
            acc = 0
            for j in range(n):
                acc += int(w[l, j]) * int(x[mu, (0 if full else l * n) + j])
            out[mu, l] = (acc > 0) - (acc < 0)
    return out


@pytest.mark.parametrize("arch", ["tree", "full"])
@pytest.mark.parametrize("n_in", [15, 12])  # odd blocks, and even blocks with ties
def test_committee_matches_loops(arch, n_in):
    rng = np.random.default_rng(n_in)
    k, p = 3, 40
    full = arch == "full"
    w = _pm1(rng, k, n_in) if full else _pm1(rng, n_in)
    x, labels = _pm1(rng, p, n_in), _pm1(rng, p)
    signs = _loop_votes(w, x, k, full)
    np.testing.assert_array_equal(committee.hidden_signs(w, x, k, full), signs)
    np.testing.assert_array_equal(
        committee.output(w, x, k, full), np.sign(signs.sum(1))
    )
    expected = int(sum(labels[mu] * signs[mu].sum() <= 0 for mu in range(p)))
    assert committee.train_errors(w, x, labels, k, full) == expected
    stride = 0 if full else n_in // k
    wk = committee.unit_weights(w, k, full)
    assert bpc.count_machine_errors(x, labels, wk, stride) == expected
    np.testing.assert_allclose(
        committee.hidden_fields(w, x, k, full) * np.sqrt(wk.shape[1]),
        _fields(w, x, k, full),
    )


def _fields(w, x, k, full):
    p, n_in = x.shape
    n = n_in if full else n_in // k
    w = np.asarray(w, dtype=float).reshape(k, n)
    return np.array(
        [
            [
                w[l] @ x[mu, (0 if full else l * n) : (0 if full else l * n) + n]
                for l in range(k)
            ]
            for mu in range(p)
        ]
    )


@pytest.mark.parametrize("n_in", [15, 12])
def test_parity_matches_loops(n_in):
    rng = np.random.default_rng(7 + n_in)
    k, p = 3, 40
    w, x, labels = _pm1(rng, n_in), _pm1(rng, p, n_in), _pm1(rng, p)
    signs = _loop_votes(w, x, k, False)
    np.testing.assert_array_equal(parity.output(w, x, k), np.prod(signs, axis=1))
    expected = int(sum(np.prod(signs[mu]) != labels[mu] for mu in range(p)))
    assert parity.train_errors(w, x, labels, k) == expected
    assert (
        bpc.count_machine_errors(x, labels, w.reshape(k, -1), n_in // k, parity=True)
        == expected
    )


@pytest.mark.parametrize("arch", ["committee-tree", "committee-full", "parity"])
def test_error_counts_agree_with_enumeration(arch):
    """Zero-error configurations of the models = solutions of the exact enumerator."""
    rng = np.random.default_rng(3)
    k, n_in, p = 3, 9 if arch != "committee-full" else 3, 4
    full = arch == "committee-full"
    x, labels = _pm1(rng, p, n_in), _pm1(rng, p)
    d = k * n_in if full else n_in
    ref = np.ones(d, dtype=np.int8)
    counts = count_solutions_by_distance_reference(
        x, labels, ref, arch=get_model(arch).architecture(k)
    )
    total = 0
    for code in range(2**d):
        w = np.array([1 - 2 * ((code >> b) & 1) for b in range(d)], dtype=np.int8)
        if arch == "parity":
            total += parity.train_errors(w, x, labels, k) == 0
        else:
            total += committee.train_errors(w, x, labels, k, full) == 0
    assert total == counts.sum()


@pytest.mark.parametrize(
    "model, n, k",
    [("committee-tree", 105, 3), ("committee-full", 21, 5), ("parity", 63, 3)],
)
def test_teacher_data_is_solved_by_its_teacher(model, n, k):
    """Teacher–student data (wfm.data): alpha per weight, the teacher is a solution."""
    from wfm.api import train_errors as model_train_errors
    from wfm.config import ModelSpec
    from wfm.data import generate

    ds = generate("teacher", 0.5, n, np.random.default_rng(0), model, k)
    n_weights = k * n if model == "committee-full" else n
    assert ds.patterns.shape == (round(0.5 * n_weights), n)
    assert ds.teacher.size == n_weights
    spec = ModelSpec(model, n=n, k=k)
    assert model_train_errors(spec, ds.teacher, ds.patterns, ds.labels) == 0
