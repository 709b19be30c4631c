"""One place that decides how wfm compiles its kernels.

Every kernel module imports :data:`njit` (serial) and :data:`pnjit` (``parallel=True``)
from here, so caching and fast-math are set once for the whole package (quimb's habit).
Fast-math stays off: BP kernels are checked against numpy references to 1e-10. Two
documented local exceptions compile with ``fastmath={"reassoc", "contract"}`` so that
LLVM can vectorise their floating-point sums: the AMP products (:mod:`wfm.kernels.amp`)
and the fast BP path (:mod:`wfm.kernels.bp`, ``fast=True``).

A loop body that runs both serially and over threads is written once, in a factory
``make(jit, loop)``, and compiled both ways by :func:`serial_and_parallel` (UMAP's
habit, style.md #3). The default number of BP shards (:data:`DEFAULT_SHARDS`,
:func:`default_shards`) is re-exported from :mod:`wfm.backends`, its one home.
"""

import os
from functools import partial

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    # a fork-safe layer (tbb, Intel OpenMP or workqueue): with GNU OpenMP a process
    # that ran a parallel kernel cannot fork (the sweep's worker pool: "fork() called
    # from a process already using GNU OpenMP" terminated the workers)
    numba.config.THREADING_LAYER = "forksafe"

# the shards defaults live in the numba-free backend seam (config reads them)
from wfm.backends import DEFAULT_SHARDS, SHARDS_MIN_FACTORS, default_shards

njit = partial(numba.njit, cache=True, fastmath=False, nogil=True)
pnjit = partial(numba.njit, cache=True, fastmath=False, nogil=True, parallel=True)
prange = numba.prange


def serial_and_parallel(make):
    """Compile one loop body serially and in parallel: ``(serial, parallel)``.

    ``make(jit, loop)`` returns the kernel decorated with ``jit`` and iterating its
    parallel loop with ``loop``; it is called with ``(njit, range)`` and
    ``(pnjit, prange)``. Both kernels give the same result; the serial one avoids the
    thread start-up that dominates sub-millisecond calls.
    """
    return make(njit, range), make(pnjit, prange)


__all__ = [
    "DEFAULT_SHARDS",
    "SHARDS_MIN_FACTORS",
    "default_shards",
    "njit",
    "pnjit",
    "prange",
    "serial_and_parallel",
]
