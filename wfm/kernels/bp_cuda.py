"""Perceptron BP sweep on the GPU (backend ``"cuda"`` of the kernel family ``"bp"``).

The equations of :mod:`wfm.kernels.bp`, with the schedule a GPU wants: every factor is
updated at once from the fields of the start of the sweep (the CPU kernel's
``shards = P``: each shard one factor, their changes summed at the end), so the
result does not depend on the factor order, and ``perm``/``shards`` are accepted and
ignored. fBP solves with this schedule in as many sweeps as with 2 shards (measured:
N = 501, alpha = 0.6, seeds 0-2: 330, 360, 312 sweeps vs 330, 356, 311).

Three launches a sweep: the total fields and their tanh (one thread a weight); the
factor update (one block a factor, threads along its row: cavity mean and variance
tree-summed, then the new messages, as in ``_factor_update``); the pattern fields
``U_i = sum_mu u[mu, i]`` summed afresh in factor order and the focusing fields (one
thread a weight). The messages ``u, t`` and the signed patterns stay on the device
(:class:`wfm.kernels._cuda.DeviceMatrix` in the BP state); per sweep only ``U, ext, f``
(O(N)) cross. Same scalar functions as the CPU kernel (compiled for the device from
the same Python bodies); libdevice's ``erfc``/``log``/``exp`` differ from glibc's by a
few ulp.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from wfm.kernels import bp as _cpu
from wfm.kernels._cuda import (
    MAX_ROW_BLOCKS,
    TPB,
    DeviceMatrix,
    block_max,
    block_sum,
    blocks_for,
    device_function,
    device_view,
    reduce_rows,
    to_device,
)

__all__ = [
    "bethe_free_entropy",
    "bp_sweep",
    "count_errors",
    "to_device_messages",
]

_fast_tanh = device_function(_cpu.fast_tanh)
_log_cosh = device_function(_cpu.log_cosh)
_log_H = device_function(_cpu.log_H)
_focusing_field = device_function(_cpu.focusing_field, log_cosh=_log_cosh)
_edge_field = device_function(_cpu.exact_edge_field, fast_tanh=_fast_tanh, log_H=_log_H)

RATIONAL_MAX_MAG = _cpu.RATIONAL_MAX_MAG
LOG_H_SWITCH = _cpu.LOG_H_SWITCH
FIELD_MAX = _cpu.FIELD_MAX
V_MIN = _cpu.V_MIN
_SQRT1_2 = 1.0 / math.sqrt(2.0)


@cuda.jit(device=True, inline=True)
def _cavity(M, H, u, t, mu, i):
    # tanh(H - u) through the tanh addition formula away from saturation
    ti = t[mu, i]
    m = 1.0
    if abs(M[i]) < RATIONAL_MAX_MAG:
        m = (M[i] - ti) / (1.0 - M[i] * ti)
    if abs(m) >= RATIONAL_MAX_MAG:
        m = _fast_tanh(H[i] - u[mu, i])
    return m


@cuda.jit
def _fields(U, ext, f, H, M):
    i = cuda.grid(1)
    if i < U.shape[0]:
        h = U[i] + ext[i] + f[i]
        H[i] = h
        M[i] = _fast_tanh(h)


@cuda.jit
def _factors(s, u, t, H, M, kappa_sqrt_n, damping, part):
    so = cuda.shared.array(TPB, np.float64)
    sv = cuda.shared.array(TPB, np.float64)
    tid = cuda.threadIdx.x
    p, n = s.shape
    md = 0.0
    mu = cuda.blockIdx.x
    while mu < p:
        omega = 0.0
        var = 0.0
        i = tid
        while i < n:
            m = _cavity(M, H, u, t, mu, i)
            omega += s[mu, i] * m
            var += 1.0 - m * m
            i += TPB
        so[tid] = omega
        sv[tid] = var
        omega = block_sum(so, tid)
        var = block_sum(sv, tid)
        i = tid
        while i < n:
            m = _cavity(M, H, u, t, mu, i)
            si = float(s[mu, i])
            vc = max(var - (1.0 - m * m), V_MIN)
            sq = math.sqrt(vc)
            a = (kappa_sqrt_n - (omega - si * m)) / sq
            g, tg = _edge_field(a, abs(si) / sq, si)
            if damping > 0.0:
                g = (1.0 - damping) * g + damping * u[mu, i]
                tg = _fast_tanh(g)
            d = abs(tg - t[mu, i])
            if d > md:
                md = d
            u[mu, i] = g
            t[mu, i] = tg
            i += TPB
        mu += cuda.gridDim.x
    so[tid] = md
    md = block_max(so, tid)
    if tid == 0:
        part[0, cuda.blockIdx.x] = md


@cuda.jit
def _columns(u, U, ext, f, gamma, r, damping, part):
    sm = cuda.shared.array(TPB, np.float64)
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * TPB + tid
    p, n = u.shape
    md = 0.0
    if i < n:
        acc = 0.0
        for mu in range(p):
            acc += u[mu, i]
        U[i] = acc
        fn = _focusing_field(acc + ext[i], gamma, r)
        if damping > 0.0:
            fn = (1.0 - damping) * fn + damping * f[i]
        md = abs(math.tanh(fn) - math.tanh(f[i]))
        f[i] = fn
    sm[tid] = md
    md = block_max(sm, tid)
    if tid == 0:
        part[0, cuda.blockIdx.x] = md


def to_device_messages(s, u, t):
    """``(s, u, t)`` as :class:`DeviceMatrix` objects for a BP state on the GPU."""
    return DeviceMatrix(s), DeviceMatrix(u), DeviceMatrix(t)


def bp_sweep(s, u, t, U, ext, f, perm, *, shards=1, kappa=0.0, damping=0.0,
             gamma=0.0, r=0.0, parallel=True, fast=False):  # fmt: skip
    """One BP sweep with every factor updated at once, then the focusing factors.

    Same signature and result as ``wfm.kernels.bp.bp_sweep(..., shards=P)``;
    ``s, u, t`` are device-resident :class:`DeviceMatrix` objects (a BP state on
    ``cuda``) or host arrays (uploaded, and ``u, t`` copied back: for tests). ``U``
    and ``f`` (host) are updated in place; ``perm``, ``shards`` and ``parallel`` do
    not change the result. ``fast``: the CPU's vectorised float32 path has no GPU
    variant; the GPU sweep is the exact float64 one, and ``fast=True`` is refused.
    """
    if fast:
        raise ValueError(
            "the fast BP path (learner.fast) is CPU-only; on cuda the sweep is the "
            "exact float64 one: drop fast=true"
        )
    host = not isinstance(u, DeviceMatrix)
    sd, ud, td = device_view(s), device_view(u), device_view(t)
    p, n = ud.shape
    Ud, extd, fd = to_device(U), to_device(np.asarray(ext, np.float64)), to_device(f)
    H = cuda.device_array(n, np.float64)
    M = cuda.device_array(n, np.float64)
    nb_n = blocks_for(n, 1 << 30)
    _fields[nb_n, TPB](Ud, extd, fd, H, M)
    nb_rows = max(1, min(MAX_ROW_BLOCKS, p))
    part_rows = cuda.device_array((1, nb_rows), np.float64)
    _factors[nb_rows, TPB](
        sd, ud, td, H, M, float(kappa) * math.sqrt(n), float(damping), part_rows
    )
    part_cols = cuda.device_array((1, nb_n), np.float64)
    _columns[nb_n, TPB](ud, Ud, extd, fd, float(gamma), float(r), float(damping),
                        part_cols)  # fmt: skip
    scal = cuda.to_device(np.zeros(2))
    reduce_rows[1, TPB](part_rows, nb_rows, scal, 0, True)
    reduce_rows[1, TPB](part_cols, nb_n, scal, 1, True)
    U[:] = Ud.copy_to_host()
    f[:] = fd.copy_to_host()
    if host:
        u[:] = ud.copy_to_host()
        t[:] = td.copy_to_host()
    out = scal.copy_to_host()
    return float(max(out[0], out[1]))


@cuda.jit
def _errors(s, w, thr, part):
    sh = cuda.shared.array(TPB, np.float64)
    tid = cuda.threadIdx.x
    p, n = s.shape
    errs = 0.0
    mu = cuda.blockIdx.x
    while mu < p:
        acc = 0.0
        i = tid
        while i < n:
            acc += s[mu, i] * w[i]
            i += TPB
        sh[tid] = acc
        tot = block_sum(sh, tid)
        if tot <= thr:
            errs += 1.0
        mu += cuda.gridDim.x
    if tid == 0:
        part[0, cuda.blockIdx.x] = errs


def count_errors(s, w, kappa=0.0) -> int:
    """Patterns with ``sum_i s[mu, i] w_i <= kappa sqrt(N)`` (``s`` on the device)."""
    sd = device_view(s)
    p, n = sd.shape
    nb = max(1, min(MAX_ROW_BLOCKS, p))
    part = cuda.device_array((1, nb), np.float64)
    _errors[nb, TPB](sd, to_device(np.asarray(w, np.float64)),
                     float(kappa) * math.sqrt(n), part)  # fmt: skip
    scal = cuda.to_device(np.zeros(1))
    reduce_rows[1, TPB](part, nb, scal, 0, False)
    return int(scal.copy_to_host()[0])


def bethe_free_entropy(s, u, U, ext, f=None, *, kappa=0.0):
    """:func:`wfm.kernels.bp.bethe_free_entropy` of device-resident messages (copied
    to the host once: a measurement at the end of a run, not a per-sweep cost)."""
    return _cpu.bethe_free_entropy(np.asarray(s), np.asarray(u), U, ext, f, kappa=kappa)
