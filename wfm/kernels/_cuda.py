"""Shared pieces of wfm's numba.cuda kernels: launch sizes, device versions of the
CPU scalar functions, block reductions.

**One scalar function, two targets.** The scalar functions of the CPU kernels
(``erfcx``, ``fast_tanh``, ``focusing_field``, ``mix64``, ...) are plain numba
functions whose bodies are valid CUDA device code; :func:`device_function` compiles the
same Python body for the GPU, rebinding the functions it calls to their device
versions. So a change of a CPU scalar function changes its GPU twin, and the tests
compare them.

**Determinism.** Every reduction is a fixed tree over a fixed partition: blocks of
:data:`TPB` threads, a grid size that depends on the problem size only, per-block
partial results summed in block order by one block. No atomics on floats: a run on the
same GPU gives the same bits every time, so a resumed run continues bit for bit.

Under numba's simulator (``NUMBA_ENABLE_CUDASIM=1``, the tests in CI) blocks are small
(:data:`TPB` = 32) so that Python threads stay few; results differ from the GPU's only
in the order of floating-point sums.
"""

from __future__ import annotations

import math
import os
import types

import numpy as np

if not hasattr(np, "row_stack"):  # pragma: no cover - depends on the installed pair
    # numba-cuda releases that predate numpy 2.4 register an overload of
    # np.row_stack (removed in numpy 2.4) when their first kernel compiles; the alias
    # is numpy's own (row_stack was vstack)
    setattr(np, "row_stack", np.vstack)  # noqa: B010

from numba import cuda  # noqa: E402

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
TPB = 32 if SIMULATOR else 256  # threads a block (a power of 2: tree reductions)
MAX_BLOCKS = 2 if SIMULATOR else 1024  # grid of the grid-stride loops
MAX_ROW_BLOCKS = 4 if SIMULATOR else 4096  # grid of the one-block-a-row passes


def device_function(fn, **deps):
    """Compile the Python body of numba function ``fn`` as a CUDA device function.

    ``deps`` rebinds globals of ``fn`` (the functions it calls) to device functions.
    """
    py = getattr(fn, "py_func", fn)
    glb = dict(py.__globals__)
    glb.update(deps)
    clone = types.FunctionType(
        py.__code__, glb, py.__name__, py.__defaults__, py.__closure__
    )
    return cuda.jit(device=True)(clone)


def blocks_for(n_items: int, cap: int = MAX_BLOCKS) -> int:
    """Blocks of a grid-stride loop over ``n_items`` (a function of the size only)."""
    return max(1, min(cap, (int(n_items) + TPB - 1) // TPB))


@cuda.jit(device=True)
def block_sum(sh, tid):
    """Tree sum of the shared array ``sh[0:TPB]``; every thread gets the total."""
    s = TPB // 2
    while s > 0:
        cuda.syncthreads()
        if tid < s:
            sh[tid] += sh[tid + s]
        s //= 2
    cuda.syncthreads()
    total = sh[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def block_max(sh, tid):
    """Tree maximum of ``sh[0:TPB]``; every thread gets it."""
    s = TPB // 2
    while s > 0:
        cuda.syncthreads()
        if tid < s and sh[tid + s] > sh[tid]:
            sh[tid] = sh[tid + s]
        s //= 2
    cuda.syncthreads()
    total = sh[0]
    cuda.syncthreads()
    return total


@cuda.jit
def reduce_rows(partials, nparts, out, first, op_max):
    """One block: ``out[first + r] = sum (or max) of partials[r, :nparts]``, in a
    fixed order (thread t takes parts t, t + TPB, ...; then a tree)."""
    sh = cuda.shared.array(TPB, np.float64)
    tid = cuda.threadIdx.x
    for r in range(partials.shape[0]):
        acc = -math.inf if op_max else 0.0
        j = tid
        while j < nparts:
            v = partials[r, j]
            if op_max:
                if v > acc:
                    acc = v
            else:
                acc += v
            j += TPB
        sh[tid] = acc
        total = block_max(sh, tid) if op_max else block_sum(sh, tid)
        if tid == 0:
            out[first + r] = total


def to_device(a):
    """Host array -> device array (contiguous)."""
    return cuda.to_device(np.ascontiguousarray(a))


class DeviceMatrix:
    """A device array that BP states hold in place of a host message array.

    Enough of the ndarray interface for :class:`wfm.bpstate.BPState`: ``shape``,
    ``dtype``, ``copy()`` and ``np.asarray(x)`` (host copies: snapshots, checkpoints),
    ``x[...] = value`` (upload: restore, resume). ``dev`` is the device array the
    kernels take.
    """

    def __init__(self, host):
        self.dev = to_device(host)

    @property
    def shape(self):
        return tuple(self.dev.shape)

    @property
    def dtype(self):
        return self.dev.dtype

    def copy(self):
        return self.dev.copy_to_host()

    def __array__(self, dtype=None, copy=None):
        out = self.dev.copy_to_host()
        return out if dtype is None else out.astype(dtype)

    def __setitem__(self, key, value):
        if key is not Ellipsis and key != slice(None):
            raise IndexError("a DeviceMatrix is assigned as a whole (x[...] = value)")
        self.dev.copy_to_device(np.ascontiguousarray(value, dtype=self.dev.dtype))


def device_view(a):
    """The device array of ``a`` (a :class:`DeviceMatrix`), else ``a`` uploaded."""
    return a.dev if isinstance(a, DeviceMatrix) else to_device(a)
