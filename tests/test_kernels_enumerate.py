"""Exact enumeration: Gray-code kernel against brute force and exact identities."""

import itertools
import math

import numpy as np
import pytest

from wfm._math import binary_entropy
from wfm.kernels.enumerate import (
    _bench,
    count_solutions_by_distance,
    count_solutions_by_distance_reference,
    exact_local_entropy,
    exact_total_entropy,
)
from wfm.models import Architecture, get_model

PM1 = np.array([-1, 1], np.int8)


def structure(architecture, k):
    """The Architecture of a registered model name (the kernel takes no names)."""
    return get_model(architecture).architecture(k)


def n_weights(architecture, n_inputs, k):
    return structure(architecture, k).n_weights(n_inputs)


def machine_output(patterns, weights, architecture, k):
    """Outputs of one weight vector on all patterns, written out independently."""
    n_inputs = patterns.shape[1]
    arch = structure(architecture, k)
    if not arch.hidden:
        return np.sign(patterns @ weights)
    if arch.fully_connected:
        hidden = patterns @ weights.reshape(k, n_inputs).T
    else:
        n = n_inputs // k
        hidden = np.stack(
            [
                patterns[:, l * n : (l + 1) * n] @ weights[l * n : (l + 1) * n]
                for l in range(k)
            ],
            axis=1,
        )
    signs = np.sign(hidden)
    if arch.parity:
        return np.prod(signs, axis=1)
    return np.sign(signs.sum(axis=1))


def random_instance(
    seed, architecture, n_inputs, n_patterns, k, gaussian=False, teacher=False
):
    rng = np.random.default_rng(seed)
    if gaussian:
        patterns = rng.standard_normal((n_patterns, n_inputs))
    else:
        patterns = rng.choice(PM1, size=(n_patterns, n_inputs))
    reference = rng.choice(PM1, size=n_weights(architecture, n_inputs, k))
    if teacher:
        labels = machine_output(patterns.astype(np.float64), reference, architecture, k)
        # A tied output (even N or k) gets label +1: the teacher fails that pattern.
        labels = np.where(labels == 0, 1, labels).astype(np.int8)
    else:
        labels = rng.choice(PM1, size=n_patterns)
    return patterns, labels, reference


# (architecture, N, P, k): small enough for the reference, big enough to have
# solutions at several distances. Even N or even k exercise the tie rule: sign(0) = 0,
# so a tied output is an error.
CASES = [
    ("perceptron-binary", 13, 5, 1),
    ("perceptron-binary", 14, 4, 1),
    ("committee-tree", 15, 6, 3),
    ("committee-tree", 15, 8, 5),
    ("committee-tree", 13, 5, 1),
    ("committee-full", 5, 4, 3),
    ("committee-full", 7, 3, 2),
    ("parity", 15, 4, 3),
    ("parity", 14, 3, 2),
    ("parity", 12, 2, 3),  # even blocks: zero hidden fields
    ("committee-tree", 12, 5, 3),
]


@pytest.mark.parametrize("gaussian", [False, True], ids=["pm1", "gaussian"])
@pytest.mark.parametrize("teacher", [False, True], ids=["random", "teacher"])
@pytest.mark.parametrize(("architecture", "n_inputs", "n_patterns", "k"), CASES)
def test_kernel_matches_reference(
    architecture, n_inputs, n_patterns, k, teacher, gaussian
):
    found_solutions = 0
    for seed in range(3):
        args = random_instance(
            seed, architecture, n_inputs, n_patterns, k, gaussian, teacher
        )
        counts = count_solutions_by_distance(*args, arch=structure(architecture, k))
        expected = count_solutions_by_distance_reference(
            *args, arch=structure(architecture, k)
        )
        assert counts.dtype == np.int64
        assert counts.shape == (n_weights(architecture, n_inputs, k) + 1,)
        np.testing.assert_array_equal(counts, expected)
        found_solutions += counts.sum()
    # The comparison is only informative if some solutions were counted.
    assert found_solutions > 0


@pytest.mark.parametrize("kappa", [0.3, 0.8, -0.2])
def test_perceptron_margin_matches_reference(kappa):
    for seed in range(3):
        for gaussian in (False, True):
            args = random_instance(seed, "perceptron-binary", 13, 3, 1, gaussian)
            counts = count_solutions_by_distance(*args, kappa=kappa)
            expected = count_solutions_by_distance_reference(*args, kappa=kappa)
            np.testing.assert_array_equal(counts, expected)


def test_margin_shrinks_solution_space():
    args = random_instance(4, "perceptron-binary", 13, 5, 1, teacher=True)
    totals = [
        count_solutions_by_distance(*args, kappa=kappa).sum() for kappa in (0, 0.5, 1)
    ]
    assert totals[0] > totals[1] > totals[2]


@pytest.mark.parametrize(
    ("architecture", "k"),
    [
        ("perceptron-binary", 1),
        ("committee-tree", 3),
        ("committee-full", 3),
        ("parity", 3),
    ],
)
def test_counts_sum_to_number_of_solutions(architecture, k):
    n_inputs = 3 if architecture == "committee-full" else 9
    patterns, labels, reference = random_instance(7, architecture, n_inputs, 3, k)
    n = n_weights(architecture, n_inputs, k)
    counts = count_solutions_by_distance(
        patterns, labels, reference, arch=structure(architecture, k)
    )
    n_solutions = 0
    for weights in itertools.product((-1, 1), repeat=n):
        output = machine_output(patterns, np.array(weights), architecture, k)
        n_solutions += bool(np.all(output == labels))
    assert counts.sum() == n_solutions


@pytest.mark.parametrize(("architecture", "n_inputs", "n_patterns", "k"), CASES)
def test_teacher_is_the_only_solution_at_distance_zero(
    architecture, n_inputs, n_patterns, k
):
    patterns, labels, reference = random_instance(
        11, architecture, n_inputs, n_patterns, k, teacher=True
    )
    counts = count_solutions_by_distance(
        patterns, labels, reference, arch=structure(architecture, k)
    )
    teacher_output = machine_output(patterns, reference, architecture, k)
    # With a tie the teacher misclassifies that pattern and is not a solution.
    assert counts[0] == int(np.all(teacher_output != 0))
    if n_inputs % 2 and k % 2:
        assert counts[0] == 1


@pytest.mark.parametrize(
    ("architecture", "n_inputs", "k"),
    [
        ("perceptron-binary", 12, 1),
        ("committee-tree", 15, 5),
        ("committee-full", 4, 3),
        ("parity", 12, 2),
    ],
)
def test_no_patterns_counts_every_configuration(architecture, n_inputs, k):
    rng = np.random.default_rng(0)
    n = n_weights(architecture, n_inputs, k)
    reference = rng.choice(PM1, size=n)
    patterns = np.zeros((0, n_inputs), np.int8)
    labels = np.zeros(0, np.int8)
    counts = count_solutions_by_distance(
        patterns, labels, reference, arch=structure(architecture, k)
    )
    np.testing.assert_array_equal(counts, [math.comb(n, d) for d in range(n + 1)])


@pytest.mark.parametrize(
    ("architecture", "k"), [("perceptron-binary", 1), ("committee-tree", 3)]
)
def test_flipping_labels_reverses_distances(architecture, k):
    # W ↦ −W maps solutions of (ξ, σ) onto solutions of (ξ, −σ) (odd machines are odd
    # functions of W) and d(−W, W̃) = N − d(W, W̃), d(−W, −W̃) = d(W, W̃).
    patterns, labels, reference = random_instance(
        3, architecture, 15, 5, k, teacher=True
    )
    kw = {"arch": structure(architecture, k)}
    counts = count_solutions_by_distance(patterns, labels, reference, **kw)
    flipped_labels = count_solutions_by_distance(patterns, -labels, reference, **kw)
    flipped_both = count_solutions_by_distance(patterns, -labels, -reference, **kw)
    assert counts.sum() > 0
    assert not np.array_equal(counts, counts[::-1])  # else the check proves nothing
    np.testing.assert_array_equal(flipped_labels, counts[::-1])
    np.testing.assert_array_equal(flipped_both, counts)


def test_flip_symmetry_holds_with_margin():
    patterns, labels, reference = random_instance(
        5, "perceptron-binary", 13, 4, 1, teacher=True
    )
    counts = count_solutions_by_distance(patterns, labels, reference, kappa=0.4)
    flipped = count_solutions_by_distance(patterns, -labels, reference, kappa=0.4)
    np.testing.assert_array_equal(flipped, counts[::-1])


def test_committee_with_one_unit_is_a_perceptron():
    args = random_instance(2, "perceptron-binary", 15, 6, 1)
    np.testing.assert_array_equal(
        count_solutions_by_distance(*args, arch=Architecture(k=1, hidden=True)),
        count_solutions_by_distance(*args),
    )


@pytest.mark.parametrize(
    ("architecture", "n_inputs", "k"),
    [
        ("perceptron-binary", 13, 1),
        ("perceptron-binary", 19, 1),
        ("committee-tree", 15, 3),
        ("committee-tree", 21, 3),
        ("committee-full", 5, 3),
        ("committee-full", 7, 3),
        ("parity", 15, 3),
        ("parity", 21, 3),
    ],
)
def test_result_independent_of_chunking(architecture, n_inputs, k):
    # Sizes on both sides of SERIAL_MAX_WEIGHTS run the serial and parallel drivers.
    args = random_instance(9, architecture, n_inputs, 5, k, teacher=True)
    n = n_weights(architecture, n_inputs, k)
    results = [
        count_solutions_by_distance(
            *args, arch=structure(architecture, k), chunk_bits=b
        )
        for b in (0, 3, n)
    ]
    assert results[0].sum() > 0
    for counts in results[1:]:
        np.testing.assert_array_equal(counts, results[0])


def test_perceptron_n25_runs():
    # α ≈ 0.3 teacher-student instance: 2^25 configurations in a Gray walk.
    patterns, labels, reference = random_instance(
        0, "perceptron-binary", 25, 7, 1, teacher=True
    )
    counts = count_solutions_by_distance(patterns, labels, reference)
    assert counts.shape == (26,)
    assert counts[0] == 1
    assert counts.sum() > 1


def test_exact_local_entropy_without_patterns():
    n = 12
    counts = np.array([math.comb(n, d) for d in range(n + 1)])
    counts[5] = 0
    d, s = exact_local_entropy(counts, n)
    np.testing.assert_allclose(d, np.arange(n + 1) / n)
    assert s[5] == -np.inf
    keep = counts > 0
    np.testing.assert_allclose(s[keep], np.log(counts[keep]) / n)
    # (1/N) ln C(N, k) <= H₂(k/N): the bound the local entropy is compared to.
    assert np.all(s[keep] <= binary_entropy(d[keep]) + 1e-12)
    full = np.array([math.comb(n, d) for d in range(n + 1)])
    assert exact_total_entropy(full) == pytest.approx(math.log(2))
    assert exact_total_entropy(np.zeros(n + 1, np.int64)) == -math.inf


def test_binary_entropy_values():
    np.testing.assert_allclose(
        binary_entropy([0.0, 0.5, 1.0, 0.1]),
        [0.0, math.log(2), 0.0, -0.1 * math.log(0.1) - 0.9 * math.log(0.9)],
    )


def test_bench_reports_rates():
    result = _bench(n_inputs=10, repeats=2)
    assert result["kernel_configs_per_s"] > 0
    assert result["reference_configs_per_s"] > 0


def _valid(**override):
    rng = np.random.default_rng(0)
    kw = {
        "patterns": rng.choice(PM1, size=(3, 9)),
        "labels": np.array([1, -1, 1]),
        "reference": rng.choice(PM1, size=9),
    }
    kw.update(override)
    return kw


@pytest.mark.parametrize(
    ("override", "match"),
    [
        (
            {"patterns": np.ones((3, 40), np.int8), "reference": np.ones(40)},
            "N must be <= 34 for exact enumeration, got 40",
        ),
        (
            {
                "arch": structure("committee-full", 5),
                "patterns": np.ones((3, 7)),
                "reference": np.ones(35),
            },
            "k\\*N must be <= 34 for exact enumeration, got 35",
        ),
        ({"arch": "hopfield"}, "arch must be a wfm.models.Architecture"),
        ({"arch": Architecture(binary=False)}, "needs binary weights"),
        ({"patterns": np.ones(9)}, "patterns must be 2-d"),
        ({"patterns": np.ones((3, 9), bool)}, "patterns must be integer or float"),
        ({"patterns": np.full((3, 9), np.nan)}, "patterns must be finite"),
        ({"patterns": np.full((3, 9), 2**50)}, "integer patterns must satisfy"),
        ({"labels": np.array([1, -1])}, "labels must have shape"),
        ({"labels": np.array([1, 0, 1])}, "labels must be ±1"),
        ({"reference": np.ones(8)}, "reference must have 9 entries"),
        ({"reference": np.zeros(9)}, "reference must be ±1"),
        ({"arch": Architecture(k=0)}, "arch.k must be an integer >= 1"),
        ({"arch": Architecture(k=3)}, "arch.k must be 1 for a perceptron"),
        ({"kappa": math.inf}, "kappa must be finite"),
        (
            {"arch": structure("parity", 3), "kappa": 0.5},
            "kappa must be 0 for a tree parity machine",
        ),
        (
            {"arch": Architecture(k=2, hidden=True)},
            "N must be a multiple of k=2 for a tree committee",
        ),
        ({"chunk_bits": 10}, "chunk_bits must be in \\[0, 9\\]"),
    ],
)
def test_invalid_input_raises(override, match):
    kw = _valid(**override)
    with pytest.raises(ValueError, match=match):
        count_solutions_by_distance(
            kw.pop("patterns"), kw.pop("labels"), kw.pop("reference"), **kw
        )


def test_reference_refuses_large_n():
    kw = _valid(patterns=np.ones((2, 17)), labels=np.ones(2), reference=np.ones(17))
    with pytest.raises(ValueError, match="N must be <= 16"):
        count_solutions_by_distance_reference(
            kw["patterns"], kw["labels"], kw["reference"]
        )
