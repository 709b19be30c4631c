"""Pattern storages: int8, bit-packed and hashed agree bit for bit; generator stats."""

import numpy as np
import pytest

from wfm import patterns as pt


@pytest.mark.parametrize(
    "p, n", [(1, 1), (3, 31), (5, 32), (7, 33), (9, 64), (40, 101)]
)
def test_three_storages_identical(p, n):
    dense = pt.random_patterns(11, p, n, "int8")
    packed = pt.random_patterns(11, p, n, "bits")
    hashed = pt.random_patterns(11, p, n, "hashed")
    assert dense.xi.dtype == np.int8 and dense.shape == (p, n)
    assert packed.words.dtype == np.uint32 and packed.words.shape == (p, (n + 31) // 32)
    np.testing.assert_array_equal(packed.to_int8(), dense.xi)
    np.testing.assert_array_equal(hashed.to_int8(), dense.xi)
    np.testing.assert_array_equal(hashed.to_words(), packed.words)
    np.testing.assert_array_equal(pt.pack_bits(dense.xi), packed.words)
    assert set(np.unique(dense.xi)) <= {-1, 1}


def test_pack_unpack_roundtrip_and_padding_bits_zero():
    rng = np.random.default_rng(0)
    xi = rng.choice(np.array([-1, 1], dtype=np.int8), size=(13, 77))
    words = pt.pack_bits(xi)
    np.testing.assert_array_equal(pt.unpack_bits(words, 77), xi)
    assert np.all(words[:, -1] >> np.uint32(77 % 32) == 0)
    # entry (mu, i) is bit i % 32 of word i // 32, bit 1 = +1
    mu, i = 4, 45
    assert ((int(words[mu, i // 32]) >> (i % 32)) & 1) == (xi[mu, i] > 0)


def test_splitmix64_reference_vector():
    # first outputs of Vigna's splitmix64.c with seed 1234567
    out = [int(pt.stream_word(np.uint64(1234567), k)) for k in range(3)]
    assert out == [6457827717110365317, 3203168211198807973, 9817491932198370423]


def test_entry_is_a_function_of_seed_row_column():
    big = pt.random_patterns(5, 30, 200, "int8").xi
    small = pt.random_patterns(5, 10, 70, "int8").xi
    np.testing.assert_array_equal(big[:10, :70], small)
    other = pt.random_patterns(6, 30, 200, "int8").xi
    assert np.mean(big == other) < 0.6
    np.testing.assert_array_equal(
        pt.random_labels(5, 100)[:40], pt.random_labels(5, 40)
    )


def test_labels_use_a_separate_key():
    xi = pt.random_patterns(3, 64, 64, "int8").xi
    labels = pt.random_labels(3, 64)
    assert labels.dtype == np.int8 and set(np.unique(labels)) <= {-1, 1}
    assert not any(np.array_equal(labels, xi[:, i]) for i in range(64))
    assert not any(np.array_equal(labels, xi[mu]) for mu in range(64))


def test_seed_sequence_accepted_and_seed_checked():
    ss = np.random.SeedSequence(42)
    a = pt.random_patterns(ss, 4, 50, "int8").xi
    seed = int(np.random.SeedSequence(42).generate_state(1, np.uint64)[0])
    np.testing.assert_array_equal(a, pt.random_patterns(seed, 4, 50, "int8").xi)
    with pytest.raises(ValueError, match="seed must be in"):
        pt.random_patterns(-1, 4, 50)
    with pytest.raises(ValueError, match="storage must be one of"):
        pt.random_patterns(1, 4, 50, "float")


def test_as_storage_conversions():
    hashed = pt.random_patterns(2, 9, 45, "hashed")
    dense = pt.as_storage(hashed.to_int8())
    assert isinstance(dense, pt.DensePatterns)
    assert pt.as_storage(dense) is dense
    np.testing.assert_array_equal(pt.as_storage(dense, "bits").words, hashed.to_words())
    np.testing.assert_array_equal(pt.as_storage(hashed, "int8").xi, dense.xi)
    with pytest.raises(ValueError, match="hashed storage is made by"):
        pt.as_storage(dense, "hashed")
    with pytest.raises(ValueError, match="±1"):
        pt.as_storage(np.zeros((3, 4), dtype=np.int8))


def test_memory_of_the_storages():
    p, n = 700, 1001
    assert pt.random_patterns(0, p, n, "int8").nbytes == p * n
    assert pt.random_patterns(0, p, n, "bits").nbytes == p * 32 * 4
    assert pt.random_patterns(0, p, n, "hashed").nbytes == 8 * p  # row keys only


# ---------------------------------------------------------------- statistics
def _z(value, mean, sd):
    return abs(value - mean) / sd


def test_generator_mean_within_5_sigma():
    for seed in (0, 1, 2**63 + 12345):
        xi = pt.random_patterns(seed, 400, 2501, "int8").xi.astype(np.float64)
        assert _z(xi.mean(), 0.0, 1.0 / np.sqrt(xi.size)) < 5
        # every bit position of the 64-bit words is balanced
        per_bit = xi[:, :2496].reshape(400, 39, 64).mean(axis=(0, 1))
        assert np.all(_z(per_bit, 0.0, 1.0 / np.sqrt(400 * 39)) < 5)
    labels = pt.random_labels(0, 100000).astype(np.float64)
    assert _z(labels.mean(), 0.0, 1.0 / np.sqrt(labels.size)) < 5


@pytest.mark.parametrize("axis", ["rows", "columns"])
def test_generator_pairwise_correlations_within_5_sigma(axis):
    # C_ab = (1/L) sum_k x_a,k x_b,k is ~ N(0, 1/L): over all pairs sqrt(L) C has
    # mean 0 (sd 1/sqrt(pairs)) and variance 1 (sd sqrt(2/pairs))
    xi = pt.random_patterns(7, 300, 3000, "int8").xi.astype(np.float64)
    x = xi if axis == "rows" else xi.T[:300]
    length = x.shape[1]
    c = (x @ x.T) / np.sqrt(length)
    pairs = c[np.triu_indices_from(c, k=1)]
    assert _z(pairs.mean(), 0.0, 1.0 / np.sqrt(pairs.size)) < 5
    assert _z(pairs.var(), 1.0, np.sqrt(2.0 / pairs.size)) < 5


def test_neighbouring_bits_and_rows_uncorrelated():
    xi = pt.random_patterns(9, 2000, 640, "int8").xi.astype(np.float64)
    # neighbouring columns (same 64-bit word) and neighbouring rows (consecutive keys)
    for prod in (xi[:, 1:] * xi[:, :-1], xi[1:] * xi[:-1]):
        assert _z(prod.mean(), 0.0, 1.0 / np.sqrt(prod.size)) < 5
    # labels against every column
    labels = pt.random_labels(9, 2000).astype(np.float64)
    corr = labels @ xi / np.sqrt(2000)
    assert _z(corr.mean(), 0.0, 1.0 / np.sqrt(corr.size)) < 5
    assert _z(corr.var(), 1.0, np.sqrt(2.0 / corr.size)) < 5
    # different seeds
    other = pt.random_patterns(10, 2000, 640, "int8").xi.astype(np.float64)
    assert _z((xi * other).mean(), 0.0, 1.0 / np.sqrt(xi.size)) < 5
