"""Exact enumeration of binary solutions, counted by Hamming distance to a reference.

The ground truth for local-entropy tests (science.md §3): for a reference W̃ and every
Hamming distance k, count the binary weight vectors W ∈ {±1}^N that classify a training
set correctly and sit at distance k from W̃,

    counts[k] = #{W solution : d_H(W, W̃) = k},    S(W̃, k/N) = (1/N) ln counts[k].

Architectures are described by structure, :class:`wfm.models.Architecture` (binary
weights; ``sign(0) = 0`` everywhere, so a tie is an error):

perceptron (``arch.hidden`` false, ``arch.k = 1``)
    Solution iff every pattern has σ^μ (W·ξ^μ) > κ√N, i.e. stability Δ^μ > κ. The test
    is done on the unnormalised field so that it is exact for integer patterns.
tree machine (``arch.hidden``, not ``arch.fully_connected``)
    ``K = arch.k`` hidden units; unit l sees the disjoint block ξ[:, l n:(l+1) n],
    n = N/K, with weights W[l n:(l+1) n].
fully connected machine (``arch.hidden`` and ``arch.fully_connected``)
    K hidden units each seeing all N inputs; weights of shape (K, N), flattened
    row-major to K N bits (distances and ``counts`` are over those K N bits).
read-out
    Committee (``arch.parity`` false): solution iff σ^μ Σ_l sign(h_l^μ) > 0 for all μ;
    parity: iff Π_l sign(h_l^μ) = σ^μ for all μ.

The margin κ is only defined for the perceptron; the machines take κ = 0 (a nonzero κ
raises) because a margin on the output vote of a committee is not a stability.

Method: a Gray-code walk over the 2^D weight vectors (D bits in all). Consecutive Gray
codes differ in the bit ctz(i), so a step flips one weight W_j and moves each affected
field by -2 W_j ξ_j^μ: O(P) work per configuration, with a running Hamming distance and
a count of unsatisfied patterns kept in the same pass (for the machines it is
updated only for patterns whose hidden-unit signs changed).
The walk is cut into 2^b contiguous chunks, each started directly from its own Gray code
g = i ^ (i >> 1) and run in parallel with ``prange`` (serially for D <= 16, where thread
start-up would dominate); each chunk fills its own row of counts, summed at the end, so
the result is exact and independent of the thread count.
"""

import math
import time

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from wfm._numba import njit, serial_and_parallel
from wfm.models import Architecture

MAX_WEIGHTS = 34
"""Largest number of binary weights the Gray-code kernel enumerates (2^34 ≈ 1.7e10)."""

MAX_WEIGHTS_REFERENCE = 16
"""Largest number of weights for the brute-force numpy reference (memory 2^D × D)."""

MAX_CHUNK_BITS = 8
"""At most 2^8 chunks: load balance on many cores, negligible O(D P) start-up each."""

MIN_CHUNK_BITS_LEFT = 12
"""Chunks walk at least 2^12 states, so small N is not dominated by thread start-up."""

SERIAL_MAX_WEIGHTS = 16
"""Up to 2^16 configurations (< 1 ms) the walk runs on one thread."""

_PERCEPTRON = Architecture()  # the default network (frozen, so safe as a default)


# ----------------------------------------------------------------------------- kernels


@njit(inline="always")
def _trailing_zeros(i):
    # Bit flipped between Gray codes i-1 and i. One cttz instruction: a shift loop
    # costs a branch misprediction per step, a third of the perceptron step time.
    return trailing_zeros(i)


@njit(inline="always")
def _gray_weight(gray, j):
    # Bit j of the Gray code set ↔ W_j = -1, so code 0 is the all-(+1) vector.
    return 1 - 2 * ((gray >> j) & 1)


@njit(inline="always")
def _n_states(n_weights):
    return np.int64(1) << n_weights


@njit(inline="always")
def _sign(x):
    return (x > 0) - (x < 0)


@njit
def _perceptron_walk_chunk(signed_patterns, reference, threshold, start, stop, counts):
    """Walk Gray codes ``start .. stop-1`` for the perceptron, adding into ``counts``.

    ``signed_patterns[j, μ] = σ^μ ξ_j^μ`` (weights × patterns, so a flip reads one
    contiguous row); W is a solution iff Σ_j W_j signed_patterns[j, μ] > threshold ∀μ.
    """
    n_weights, n_patterns = signed_patterns.shape
    weights = np.empty(n_weights, np.int64)
    stabilities = np.zeros(n_patterns, signed_patterns.dtype)
    gray = start ^ (start >> 1)
    distance = 0
    for j in range(n_weights):
        w = _gray_weight(gray, j)
        weights[j] = w
        distance += w != reference[j]
        for mu in range(n_patterns):
            stabilities[mu] += w * signed_patterns[j, mu]
    n_unsat = 0
    for mu in range(n_patterns):
        n_unsat += stabilities[mu] <= threshold
    if n_unsat == 0:
        counts[distance] += 1
    for i in range(start + 1, stop):
        j = _trailing_zeros(i)
        w = weights[j]
        weights[j] = -w
        distance += 1 if w == reference[j] else -1
        step = -2 * w
        # The unsatisfied count is rebuilt in the same pass that updates the
        # stabilities: no second pass, and ~10% faster than the incremental
        # n_unsat += [new <= t] - [old <= t] (measured at N=25, P=7).
        n_unsat = 0
        for mu in range(n_patterns):
            new = stabilities[mu] + step * signed_patterns[j, mu]
            stabilities[mu] = new
            n_unsat += new <= threshold
        if n_unsat == 0:
            counts[distance] += 1


@njit(inline="always")
def _machine_correct(n_pos, n_neg, label, n_units, parity):
    """Whether a pattern is classified right, given its hidden-unit sign tallies."""
    if parity:
        # A zero hidden field makes the parity output 0, never equal to σ = ±1.
        if n_pos + n_neg < n_units:
            return 0
        return 1 if (1 - 2 * (n_neg & 1)) == label else 0
    return 1 if label * (n_pos - n_neg) > 0 else 0


@njit
def _machine_walk_chunk(
    patterns_by_weight,
    unit_of_weight,
    n_units,
    labels,
    reference,
    parity,
    start,
    stop,
    counts,
):
    """Walk Gray codes ``start .. stop-1`` for committee / parity machines.

    Weight j multiplies input ``patterns_by_weight[j, μ]`` of hidden unit
    ``unit_of_weight[j]`` (this covers tree and fully connected machines alike).
    Per pattern the walk keeps the hidden fields and the number of positive and
    negative ones; a pattern's status is recomputed only when one of its signs flips.
    """
    n_weights, n_patterns = patterns_by_weight.shape
    weights = np.empty(n_weights, np.int64)
    fields = np.zeros((n_units, n_patterns), patterns_by_weight.dtype)
    n_pos = np.zeros(n_patterns, np.int64)
    n_neg = np.zeros(n_patterns, np.int64)
    gray = start ^ (start >> 1)
    distance = 0
    for j in range(n_weights):
        w = _gray_weight(gray, j)
        weights[j] = w
        distance += w != reference[j]
        l = unit_of_weight[j]
        for mu in range(n_patterns):
            fields[l, mu] += w * patterns_by_weight[j, mu]
    n_unsat = 0
    for mu in range(n_patterns):
        for l in range(n_units):
            s = _sign(fields[l, mu])
            n_pos[mu] += s > 0
            n_neg[mu] += s < 0
        n_unsat += 1 - _machine_correct(
            n_pos[mu], n_neg[mu], labels[mu], n_units, parity
        )
    if n_unsat == 0:
        counts[distance] += 1
    for i in range(start + 1, stop):
        j = _trailing_zeros(i)
        w = weights[j]
        weights[j] = -w
        distance += 1 if w == reference[j] else -1
        step = -2 * w
        l = unit_of_weight[j]
        for mu in range(n_patterns):
            old = fields[l, mu]
            new = old + step * patterns_by_weight[j, mu]
            fields[l, mu] = new
            s_old = _sign(old)
            s_new = _sign(new)
            if s_old != s_new:
                was_ok = _machine_correct(
                    n_pos[mu], n_neg[mu], labels[mu], n_units, parity
                )
                n_pos[mu] += (s_new > 0) - (s_old > 0)
                n_neg[mu] += (s_new < 0) - (s_old < 0)
                n_unsat += was_ok - _machine_correct(
                    n_pos[mu], n_neg[mu], labels[mu], n_units, parity
                )
        if n_unsat == 0:
            counts[distance] += 1


# The drivers split the 2^D Gray codes into len(counts_rows) contiguous chunks, one
# counts row each. The chunk bodies above are written once; the serial drivers avoid
# the thread start-up and barrier that dominate sub-millisecond walks (and cost
# milliseconds on an oversubscribed machine).


def _driver(walk_chunk):
    """``make(jit, loop)`` of the chunk loop over ``walk_chunk`` (serial / prange)."""

    def make(jit, loop):
        @jit
        def drive(n_weights, args, counts_rows):
            n_chunks = counts_rows.shape[0]
            chunk_len = _n_states(n_weights) // n_chunks
            for c in loop(n_chunks):
                walk_chunk(*args, c * chunk_len, (c + 1) * chunk_len, counts_rows[c])

        return drive

    return make


# (serial, parallel), indexed by "more than SERIAL_MAX_WEIGHTS weights"
_perceptron_counts = serial_and_parallel(_driver(_perceptron_walk_chunk))
_machine_counts = serial_and_parallel(_driver(_machine_walk_chunk))


# ------------------------------------------------------------------ public wrappers


def _describe(arch):
    """Words for an architecture in error messages: ``"perceptron"``, ``"tree
    committee"``, ``"fully connected parity machine"``, ..."""
    if not arch.hidden:
        return "perceptron"
    wiring = "fully connected" if arch.fully_connected else "tree"
    return f"{wiring} {'parity machine' if arch.parity else 'committee'}"


def _validate(patterns, labels, reference, kappa, arch, max_weights):
    """Check inputs once; return arrays in kernel form and derived sizes."""
    if not isinstance(arch, Architecture):
        raise ValueError(f"arch must be a wfm.models.Architecture, got {arch!r}")
    if not arch.binary:
        raise ValueError("exact enumeration needs binary weights (arch.binary)")
    patterns = np.asarray(patterns)
    labels = np.asarray(labels)
    reference = np.asarray(reference)
    if patterns.ndim != 2:
        raise ValueError(f"patterns must be 2-d (P, N), got shape {patterns.shape}")
    if patterns.dtype.kind not in "iuf":
        raise ValueError(f"patterns must be integer or float, got {patterns.dtype}")
    n_patterns, n_inputs = patterns.shape
    if n_inputs < 1:
        raise ValueError(f"N must be >= 1, got {n_inputs}")
    if patterns.dtype.kind == "f" and not np.all(np.isfinite(patterns)):
        raise ValueError("patterns must be finite, got nan or inf")
    if patterns.dtype.kind in "iu" and patterns.size and np.abs(patterns).max() > 2**46:
        # Keeps integer fields exact in the float64 perceptron walk (D * 2^46 < 2^53).
        raise ValueError("integer patterns must satisfy |ξ| <= 2**46")
    if labels.shape != (n_patterns,):
        raise ValueError(f"labels must have shape ({n_patterns},), got {labels.shape}")
    if not np.all((labels == 1) | (labels == -1)):
        raise ValueError("labels must be ±1")
    k = arch.k
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"arch.k must be an integer >= 1, got {k!r}")
    if not math.isfinite(kappa):
        raise ValueError(f"kappa must be finite, got {kappa}")
    if not arch.hidden and k != 1:
        raise ValueError(f"arch.k must be 1 for a perceptron, got {k}")
    if arch.hidden and kappa != 0:
        raise ValueError(f"kappa must be 0 for a {_describe(arch)}, got {kappa}")
    if arch.hidden and not arch.fully_connected and n_inputs % k:
        raise ValueError(
            f"N must be a multiple of k={k} for a {_describe(arch)}, got {n_inputs}"
        )
    n_weights = arch.n_weights(n_inputs)
    if n_weights > max_weights:
        what = "k*N" if arch.fully_connected else "N"
        raise ValueError(
            f"{what} must be <= {max_weights} for exact enumeration, got {n_weights}"
        )
    if reference.size != n_weights or reference.ndim not in (1, 2):
        raise ValueError(
            f"reference must have {n_weights} entries ((N,) or (k, N)), "
            f"got shape {reference.shape}"
        )
    reference = reference.reshape(-1)
    if not np.all((reference == 1) | (reference == -1)):
        raise ValueError("reference must be ±1")
    # Integer fields stay exact; float (Gaussian) patterns run in float64.
    dtype = np.float64 if patterns.dtype.kind == "f" else np.int64
    return (
        patterns.astype(dtype),
        labels.astype(np.int64),
        reference.astype(np.int64),
        n_weights,
    )


def count_solutions_by_distance(
    patterns,
    labels,
    reference,
    *,
    arch=_PERCEPTRON,
    kappa=0.0,
    chunk_bits=None,
):
    """Count binary solutions at each Hamming distance from a reference, exactly.

    Parameters
    ----------
    patterns : ndarray, shape (P, N)
        Inputs ξ: integer (±1) or float (e.g. Gaussian). P = 0 is allowed.
    labels : ndarray, shape (P,)
        Labels σ = ±1.
    reference : ndarray, shape (D,) or (k, N)
        Reference weights W̃ = ±1; D = ``arch.n_weights(N)`` (k N fully connected).
    arch : wfm.models.Architecture, optional
        Structure of the network (default: the perceptron); see the module docstring.
    kappa : float, optional
        Margin κ, perceptron only: solution iff σ^μ W·ξ^μ > κ√N for all μ.
    chunk_bits : int, optional
        The Gray walk is split into 2^chunk_bits parallel chunks (default
        ``min(max(D - 12, 0), 8)``). Does not change the result.

    Returns
    -------
    counts : ndarray of int64, shape (D + 1,)
        ``counts[d]`` = number of solutions at Hamming distance d from ``reference``;
        ``counts.sum()`` is the number of solutions.

    Raises
    ------
    ValueError
        On inputs out of range, including D > 34.
    """
    xi, sigma, ref, n_weights = _validate(
        patterns, labels, reference, kappa, arch, MAX_WEIGHTS
    )
    if chunk_bits is None:
        chunk_bits = min(max(n_weights - MIN_CHUNK_BITS_LEFT, 0), MAX_CHUNK_BITS)
    if not 0 <= chunk_bits <= n_weights:
        raise ValueError(f"chunk_bits must be in [0, {n_weights}], got {chunk_bits}")
    counts_rows = np.zeros((1 << chunk_bits, n_weights + 1), np.int64)
    n_inputs = xi.shape[1]
    if not arch.hidden:
        signed = np.ascontiguousarray((sigma[:, None] * xi).T)
        # float64 even for integer patterns: the sums stay exact (|field| < 2^53, see
        # _validate) and the walk measured ~1.7x faster than with int64 fields.
        signed = signed.astype(np.float64)
        threshold = float(kappa) * math.sqrt(n_inputs)
        kernel = _perceptron_counts[n_weights > SERIAL_MAX_WEIGHTS]
        kernel(n_weights, (signed, ref, threshold), counts_rows)
    else:
        weight_index = np.arange(n_weights)
        if arch.fully_connected:
            unit_of_weight = weight_index // n_inputs
            inputs = weight_index % n_inputs
        else:
            unit_of_weight = weight_index // (n_inputs // arch.k)
            inputs = weight_index
        patterns_by_weight = np.ascontiguousarray(xi[:, inputs].T)
        kernel = _machine_counts[n_weights > SERIAL_MAX_WEIGHTS]
        args = (
            patterns_by_weight,
            unit_of_weight,
            arch.k,
            sigma,
            ref,
            bool(arch.parity),
        )
        kernel(n_weights, args, counts_rows)
    return counts_rows.sum(axis=0)


def count_solutions_by_distance_reference(
    patterns, labels, reference, *, arch=_PERCEPTRON, kappa=0.0
):
    """Brute-force numpy version of :func:`count_solutions_by_distance` (D <= 16).

    Builds all 2^D weight vectors as a matrix, computes every output with a matrix
    product and histograms the distances of the solutions. Slow and obviously right:
    the test oracle for the Gray-code kernel.
    """
    xi, sigma, ref, n_weights = _validate(
        patterns, labels, reference, kappa, arch, MAX_WEIGHTS_REFERENCE
    )
    n_patterns, n_inputs = xi.shape
    k = arch.k
    states = np.arange(1 << n_weights)[:, None]
    weights = 1 - 2 * ((states >> np.arange(n_weights)) & 1)
    if not arch.hidden:
        fields = weights @ xi.T
        ok = sigma * fields > float(kappa) * math.sqrt(n_inputs)
    else:
        if arch.fully_connected:
            per_unit = weights.reshape(-1, k, n_inputs)
            hidden = np.einsum("skn,pn->skp", per_unit, xi)
        else:
            n = n_inputs // k
            per_unit = weights.reshape(-1, k, n)
            hidden = np.einsum("skn,pkn->skp", per_unit, xi.reshape(n_patterns, k, n))
        signs = np.sign(hidden)
        if arch.parity:
            output = np.prod(signs, axis=1)
        else:
            output = np.sign(signs.sum(axis=1))
        ok = sigma * output > 0
    solutions = np.all(ok, axis=1)
    distances = np.count_nonzero(weights != ref, axis=1)
    return np.bincount(distances[solutions], minlength=n_weights + 1).astype(np.int64)


def exact_local_entropy(counts, N=None):
    """Local entropy S(W̃, d) = (1/N) ln counts[dN] from exact counts.

    Parameters
    ----------
    counts : array_like of int, shape (N + 1,)
        Output of :func:`count_solutions_by_distance`.
    N : int, optional
        Number of weights; defaults to ``len(counts) - 1``.

    Returns
    -------
    d : ndarray, shape (N + 1,)
        Distances k/N.
    s : ndarray, shape (N + 1,)
        ln(counts[k]) / N, −inf where counts[k] = 0.
    """
    counts = np.asarray(counts)
    if N is None:
        N = counts.size - 1
    if counts.shape != (N + 1,):
        raise ValueError(f"counts must have shape ({N + 1},), got {counts.shape}")
    with np.errstate(divide="ignore"):
        s = np.log(counts.astype(np.float64)) / N
    return np.arange(N + 1) / N, s


def exact_total_entropy(counts, N=None):
    """Entropy of the whole solution space, (1/N) ln Σ_k counts[k] (−inf if none)."""
    counts = np.asarray(counts)
    if N is None:
        N = counts.size - 1
    total = float(counts.sum())
    return math.log(total) / N if total > 0 else -math.inf


def _bench(n_inputs=14, n_patterns=4, repeats=20, seed=0):
    """Configurations per second of the Gray-code kernel and the numpy reference.

    Returns
    -------
    dict
        ``{"n_inputs", "kernel_configs_per_s", "reference_configs_per_s"}`` for one
        random perceptron instance (compilation excluded).
    """
    rng = np.random.default_rng(seed)
    patterns = rng.choice(np.array([-1, 1], np.int8), size=(n_patterns, n_inputs))
    labels = rng.choice(np.array([-1, 1], np.int8), size=n_patterns)
    reference = rng.choice(np.array([-1, 1], np.int8), size=n_inputs)
    rates = {}
    for name, fn in (
        ("kernel", count_solutions_by_distance),
        ("reference", count_solutions_by_distance_reference),
    ):
        fn(patterns, labels, reference)  # compile / warm caches
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn(patterns, labels, reference)
        elapsed = time.perf_counter() - t0
        rates[f"{name}_configs_per_s"] = repeats * 2.0**n_inputs / elapsed
    return {"n_inputs": n_inputs, **rates}


__all__ = [
    "count_solutions_by_distance",
    "count_solutions_by_distance_reference",
    "exact_local_entropy",
    "exact_total_entropy",
]
