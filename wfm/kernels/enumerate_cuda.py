"""Exact enumeration of perceptron solutions by Hamming distance on the GPU.

Same walk and same result as :func:`wfm.kernels.enumerate.count_solutions_by_distance`
(backend ``"cuda"`` of the kernel family ``"enumerate"``; perceptron only): the 2^D
Gray codes are cut into 2^c aligned chunks of 2^(D-c) codes, one thread a chunk. A
thread starts from its chunk's first Gray code (O(D P) once), then each step flips the
weight ``ctz(i)`` and moves the P stabilities, counting solutions by distance in its
own counts; the counts are added to the device total with integer atomics at the end
(exact, so the result does not depend on the order). Chunks are aligned, so the 32
threads of a warp flip the same weight at every step: the pattern row they read is a
broadcast and the warp never diverges in the walk.

The counts are exact integers. Integer patterns walk in int32 (stabilities of ±1
patterns are bounded by D), float patterns in float64 as on the CPU.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from wfm.kernels import enumerate as _cpu
from wfm.kernels._cuda import SIMULATOR
from wfm.models import Architecture

__all__ = ["MAX_PATTERNS", "MAX_WEIGHTS", "count_solutions_by_distance"]

MAX_WEIGHTS = 40
"""Largest D on the GPU (2^40 ≈ 1.1e12 configurations)."""

MAX_PATTERNS = 64
"""Stabilities are a per-thread array of this size."""

_MAX_COUNTS = MAX_WEIGHTS + 1
_TPB = 32 if SIMULATOR else 128
_THREAD_BITS = 6 if SIMULATOR else 21  # at most 2^this threads (chunks)
_PERCEPTRON = Architecture()


def _make_walk(stab_dtype):
    @cuda.jit
    def walk(signed, reference, threshold, chunk_bits, counts):
        c = cuda.grid(1)
        n_weights, n_patterns = signed.shape
        n_chunks = 1 << chunk_bits
        if c >= n_chunks:
            return
        stab = cuda.local.array(MAX_PATTERNS, stab_dtype)
        local = cuda.local.array(_MAX_COUNTS, np.int64)
        for k in range(n_weights + 1):
            local[k] = 0
        length = np.int64(1) << (n_weights - chunk_bits)
        start = np.int64(c) * length
        gray = start ^ (start >> 1)
        distance = 0
        for mu in range(n_patterns):
            stab[mu] = 0
        for j in range(n_weights):
            w = 1 - 2 * ((gray >> j) & 1)
            if w != reference[j]:
                distance += 1
            for mu in range(n_patterns):
                stab[mu] += w * signed[j, mu]
        n_unsat = 0
        for mu in range(n_patterns):
            if stab[mu] <= threshold:
                n_unsat += 1
        if n_unsat == 0:
            local[distance] += 1
        for i in range(start + 1, start + length):
            # flipped bit between Gray codes i-1 and i: trailing zeros of i
            j = cuda.ffs(np.int64(i)) - 1
            g_new = i ^ (i >> 1)
            w_new = 1 - 2 * ((g_new >> j) & 1)
            if w_new == reference[j]:
                distance -= 1
            else:
                distance += 1
            step = 2 * w_new
            n_unsat = 0
            for mu in range(n_patterns):
                s = stab[mu] + step * signed[j, mu]
                stab[mu] = s
                if s <= threshold:
                    n_unsat += 1
            if n_unsat == 0:
                local[distance] += 1
        for k in range(n_weights + 1):
            if local[k]:
                cuda.atomic.add(counts, k, local[k])

    return walk


_WALKS = {"int": _make_walk(np.int32), "float": _make_walk(np.float64)}


def count_solutions_by_distance(
    patterns, labels, reference, *, arch=_PERCEPTRON, kappa=0.0, chunk_bits=None
):
    """:func:`wfm.kernels.enumerate.count_solutions_by_distance` on the GPU.

    Perceptron only (``arch`` without hidden units), D <= :data:`MAX_WEIGHTS`,
    P <= :data:`MAX_PATTERNS`. ``chunk_bits``: the walk is cut into 2^chunk_bits
    threads (default ``min(D, 21)``); does not change the result.
    """
    if arch.hidden:
        raise ValueError(
            "exact enumeration on cuda is implemented for the perceptron only; use "
            'device = "cpu" for committee and parity machines'
        )
    xi, sigma, ref, n_weights = _cpu._validate(
        patterns, labels, reference, kappa, arch, MAX_WEIGHTS
    )
    n_patterns, n_inputs = xi.shape
    if n_patterns > MAX_PATTERNS:
        raise ValueError(
            f"P must be <= {MAX_PATTERNS} for exact enumeration on cuda, got "
            f"{n_patterns}"
        )
    if chunk_bits is None:
        chunk_bits = min(n_weights, _THREAD_BITS)
    if not 0 <= chunk_bits <= n_weights:
        raise ValueError(f"chunk_bits must be in [0, {n_weights}], got {chunk_bits}")
    signed = np.ascontiguousarray((sigma[:, None] * xi).T)
    threshold = float(kappa) * math.sqrt(n_inputs)
    if xi.dtype.kind == "f":
        walk, signed = _WALKS["float"], signed.astype(np.float64)
    else:
        walk, signed = _WALKS["int"], signed.astype(np.int32)
        # integer stabilities: s <= threshold  <=>  s <= floor(threshold)
        threshold = math.floor(threshold)
    if n_patterns == 0:  # every configuration is a solution
        signed = np.zeros((n_weights, 1), signed.dtype)
        threshold = -1
    counts = cuda.to_device(np.zeros(n_weights + 1, np.int64))
    n_threads = 1 << chunk_bits
    blocks = (n_threads + _TPB - 1) // _TPB
    walk[blocks, _TPB](
        cuda.to_device(signed), cuda.to_device(ref.astype(np.int32)),
        threshold, chunk_bits, counts,
    )  # fmt: skip
    return counts.copy_to_host()


exact_local_entropy = _cpu.exact_local_entropy
exact_total_entropy = _cpu.exact_total_entropy
count_solutions_by_distance_reference = _cpu.count_solutions_by_distance_reference
