"""numba.cuda kernels of the AMP iteration: the equations of :mod:`wfm.kernels.amp`
on the GPU, same signatures (backend ``"cuda"`` of the kernel family ``"amp"``).

The state (``m, g, B, ext, f``), the pattern storage and every scratch array live on
the device for the whole run (:class:`AMPEngine`); an iteration reads back only its
report (errors, maxdiff, V, A: 32 bytes), and the state crosses to the host only when
asked (a checkpoint, the result).

One iteration is nine launches, each over O(N), O(P) or the matrix:

1. ``prep``: padded ``m`` and ``sign(m)``, partial sums of ``1 - m^2``, ``m``,
   ``sign(m)``; reduced in block order.
2. ``fm``: one block a pattern row, threads along the row (coalesced reads of the
   int8 row, or of its bit words: a warp reads one word; or of its hashed words, one
   ``mix64`` a warp for 32 entries): ``xi m`` and ``xi sign(m)``, tree-summed; each
   block counts the training errors of its rows.
3. ``out``: the output function and damping of ``g``, partial sums of ``dg`` and
   ``g``. Skipped (state unchanged) when ``stop_at_solution`` and there are no errors.
4. ``ftg``: one thread a column, ``blockIdx.y`` a chunk of rows (the number of chunks
   depends on (P, N) only): partial ``xi^T g`` per chunk.
5. ``update``: chunks summed in order, ``B``, the focusing field, ``m``, partial max of
   ``|dm|``.

Reductions are fixed trees (:mod:`wfm.kernels._cuda`): the same bits on every run.
Precision: as on the CPU, float64 or float32 state; the scalar functions are evaluated
in float64 (libdevice ``erfc``/``exp``: within a few ulp of glibc's), row sums of
``fm`` accumulate in the state dtype per thread and in float64 across threads.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import cuda

from wfm import patterns as _patterns
from wfm.kernels import amp as _cpu
from wfm.kernels import bp as _bp
from wfm.kernels._cuda import (
    MAX_ROW_BLOCKS,
    TPB,
    block_max,
    block_sum,
    blocks_for,
    device_function,
    reduce_rows,
    to_device,
)
from wfm.patterns import DensePatterns, HashedPatterns, PackedPatterns, as_storage

__all__ = [
    "AMPEngine",
    "amp_free_entropy",
    "amp_iteration",
    "bench_amp",
    "matvec",
    "rmatvec",
]

V_MIN = _cpu.V_MIN
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_SQRT1_2 = 1.0 / math.sqrt(2.0)

# device twins of the CPU scalar functions (same Python bodies)
_exp_sq = device_function(_cpu._exp_sq)
_erfcx = device_function(_cpu.erfcx, _exp_sq=_exp_sq)
_output_function = device_function(_cpu.output_function, erfcx=_erfcx)
_fast_tanh = device_function(_bp.fast_tanh)
_log_cosh = device_function(_bp.log_cosh)
_focusing_field = device_function(_bp.focusing_field, log_cosh=_log_cosh)
_mix64 = device_function(_patterns.mix64)
_stream_word = device_function(_patterns.stream_word, mix64=_mix64)

# slots of the device scalars array
S_VAR, S_MSUM, S_WSUM, S_ERR, S_DG, S_MAXDIFF = range(6)
N_SLOTS = 8


# ------------------------------------------------------------ pattern access
# ``positive(flat, row, i)``: entry (mu, i) is +1, where ``flat`` is the storage as one
# 1-D device array and ``row`` the offset of row mu in it (the row key for hashed
# patterns). Indices are unsigned 64-bit, so numba adds no negative-index wraparound,
# and a row offset is advanced by one addition a row instead of a 2-D index product
# per entry (the generic 2-D indexing cost ~5x the passes' time on an H100). The
# products add or subtract through a select: no int -> float conversion, no branch.
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)
_U4 = np.uint64(4)
_U5 = np.uint64(5)
_U6 = np.uint64(6)
_U31 = np.uint64(31)
_U63 = np.uint64(63)


@cuda.jit(device=True, inline=True)
def _pos_int8(flat, row, i):
    return flat[row + i] > 0


@cuda.jit(device=True, inline=True)
def _pos_bits(flat, row, i):
    return (np.uint64(flat[row + (i >> _U5)]) >> (i & _U31)) & _U1


@cuda.jit(device=True, inline=True)
def _pos_hashed(flat, row, i):
    return (_stream_word(row, i >> _U6) >> (i & _U63)) & _U1


def _make_passes(positive, hashed):
    """``fm`` (rows) and ``ftg`` (columns) kernels for one storage.

    Both loops are unrolled: the loads of several entries are issued before their sums
    need them, so a warp keeps several memory requests in flight.
    """

    @cuda.jit(device=True, inline=True)
    def row_of(flat, stride, mu):
        return flat[mu] if hashed else mu * stride

    @cuda.jit(device=True, inline=True)
    def sgn(pos, v):
        return v if pos else -v

    @cuda.jit
    def fm(flat, stride, n, mp, labels, thr, raw, stab, err_part, zero):
        # one block a row: raw = xi mp, stab = xi sign(mp) (ties +1); the block
        # counts the training errors of sign(mp) on its rows into err_part[block]
        sa = cuda.shared.array(TPB, np.float64)
        sb = cuda.shared.array(TPB, np.float64)
        tid = cuda.threadIdx.x
        pu = np.uint64(raw.shape[0])
        one = zero + 1
        errs = 0.0
        step = np.uint64(TPB)
        nu = np.uint64(n)
        mu = np.uint64(cuda.blockIdx.x)
        while mu < pu:
            row = row_of(flat, np.uint64(stride), mu)
            a = zero
            b = zero
            i = np.uint64(tid)
            while i + _U3 * step < nu:
                i1, i2, i3 = i + step, i + _U2 * step, i + _U3 * step
                v0, v1, v2, v3 = mp[i], mp[i1], mp[i2], mp[i3]
                p0, p1 = positive(flat, row, i), positive(flat, row, i1)
                p2, p3 = positive(flat, row, i2), positive(flat, row, i3)
                a += (sgn(p0, v0) + sgn(p1, v1)) + (sgn(p2, v2) + sgn(p3, v3))
                b += (sgn(p0 == (v0 >= 0), one) + sgn(p1 == (v1 >= 0), one)) + (
                    sgn(p2 == (v2 >= 0), one) + sgn(p3 == (v3 >= 0), one)
                )
                i += _U4 * step
            while i < nu:
                v0 = mp[i]
                p0 = positive(flat, row, i)
                a += sgn(p0, v0)
                b += sgn(p0 == (v0 >= 0), one)
                i += step
            sa[tid] = a
            sb[tid] = b
            ta = block_sum(sa, tid)
            tb = block_sum(sb, tid)
            if tid == 0:
                raw[mu] = ta
                stab[mu] = tb
                if labels[mu] * tb <= thr:
                    errs += 1.0
            mu += np.uint64(cuda.gridDim.x)
        if tid == 0:
            err_part[0, cuda.blockIdx.x] = errs

    @cuda.jit
    def ftg(flat, stride, n, g, part, zero):
        # thread = column, blockIdx.y = chunk of rows; part[chunk, i]
        col = cuda.blockIdx.x * TPB + cuda.threadIdx.x
        if col >= n:
            return
        i = np.uint64(col)
        nch = part.shape[0]
        p = g.shape[0]
        c = cuda.blockIdx.y
        mu = np.uint64(c * p // nch)
        r1 = np.uint64((c + 1) * p // nch)
        su = np.uint64(stride)
        acc = zero
        while mu + _U4 <= r1:
            q0 = row_of(flat, su, mu)
            q1 = row_of(flat, su, mu + _U1)
            q2 = row_of(flat, su, mu + _U2)
            q3 = row_of(flat, su, mu + _U3)
            p0, p1 = positive(flat, q0, i), positive(flat, q1, i)
            p2, p3 = positive(flat, q2, i), positive(flat, q3, i)
            g0, g1, g2, g3 = g[mu], g[mu + _U1], g[mu + _U2], g[mu + _U3]
            acc += (sgn(p0, g0) + sgn(p1, g1)) + (sgn(p2, g2) + sgn(p3, g3))
            mu += _U4
        while mu < r1:
            acc += sgn(positive(flat, row_of(flat, su, mu), i), g[mu])
            mu += _U1
        part[c, col] = acc

    return fm, ftg


_PASSES = {
    "int8": _make_passes(_pos_int8, False),
    "bits": _make_passes(_pos_bits, False),
    "hashed": _make_passes(_pos_hashed, True),
}


# -------------------------------------------------------------- O(N + P) steps
@cuda.jit
def _prep(m, mp, wp, part):
    sv = cuda.shared.array(TPB, np.float64)
    sm = cuda.shared.array(TPB, np.float64)
    sw = cuda.shared.array(TPB, np.float64)
    tid = cuda.threadIdx.x
    n = m.shape[0]
    v = 0.0
    ms = 0.0
    ws = 0.0
    i = cuda.blockIdx.x * TPB + tid
    while i < n:
        mi = m[i]
        w = 1.0 if mi >= 0.0 else -1.0
        mp[i] = mi
        wp[i] = w
        v += 1.0 - float(mi) * float(mi)
        ms += float(mi)
        ws += w
        i += cuda.gridDim.x * TPB
    sv[tid] = v
    sm[tid] = ms
    sw[tid] = ws
    v = block_sum(sv, tid)
    ms = block_sum(sm, tid)
    ws = block_sum(sw, tid)
    if tid == 0:
        b = cuda.blockIdx.x
        part[0, b] = v
        part[1, b] = ms
        part[2, b] = ws


@cuda.jit
def _out(raw, labels, g, scal, n, kappa, damping, stop, part):
    sd = cuda.shared.array(TPB, np.float64)
    tid = cuda.threadIdx.x
    skip = stop and scal[S_ERR] == 0.0
    V = max(scal[S_VAR] / n, V_MIN)
    sqn = math.sqrt(n)
    p = g.shape[0]
    sdg = 0.0
    mu = cuda.blockIdx.x * TPB + tid
    while mu < p and not skip:
        go = float(g[mu])
        omega = raw[mu] / sqn - V * go
        gn, dg = _output_function(omega, V, float(labels[mu]), kappa)
        sdg += dg
        g[mu] = (1.0 - damping) * gn + damping * go
        mu += cuda.gridDim.x * TPB
    sd[tid] = sdg
    sdg = block_sum(sd, tid)
    if tid == 0:
        part[0, cuda.blockIdx.x] = sdg


@cuda.jit
def _update(m, B, ext, f, part, scal, n, damping, mode, rho, gamma, r, stop, mpart):
    smax = cuda.shared.array(TPB, np.float64)
    tid = cuda.threadIdx.x
    skip = stop and scal[S_ERR] == 0.0
    A = -scal[S_DG] / n
    sqn = math.sqrt(n)
    nch = part.shape[0]
    md = 0.0
    i = cuda.blockIdx.x * TPB + tid
    while i < n and not skip:
        s = part[0, i]
        for c in range(1, nch):
            s += part[c, i]
        acc = float(s)
        bo = float(B[i])
        bn = (1.0 - damping) * (acc / sqn + A * float(m[i])) + damping * bo
        if mode == 1:
            f[i] = rho * (bo + ext[i] + f[i])
        elif mode == 2:
            fn = _focusing_field(bn + ext[i], gamma, r)
            f[i] = (1.0 - damping) * fn + damping * f[i]
        B[i] = bn
        mn = _fast_tanh(bn + ext[i] + f[i])
        d = abs(mn - m[i])
        m[i] = mn
        if d > md:
            md = d
        i += cuda.gridDim.x * TPB
    smax[tid] = md
    md = block_max(smax, tid)
    if tid == 0:
        mpart[0, cuda.blockIdx.x] = md


# ----------------------------------------------------------------- the engine
def _row_chunks(p: int, n: int) -> int:
    """Row chunks of ``ftg``: enough columns x chunks to fill a GPU (a function of
    (P, N) only, so results do not depend on the device)."""
    want = max(1, (1 << 18) // max(n, 1))
    return int(max(1, min(want, p // 16 if p >= 16 else 1, 1024)))


def _device_storage(store):
    """``(kind, flat device array, row stride)`` of a pattern storage."""
    if isinstance(store, DensePatterns):
        return "int8", to_device(store.xi.reshape(-1)), store.xi.shape[1]
    if isinstance(store, PackedPatterns):
        return "bits", to_device(store.words.reshape(-1)), store.words.shape[1]
    if isinstance(store, HashedPatterns):
        return "hashed", to_device(store.kernel_args()[0]), 0
    raise TypeError(f"unknown pattern storage {type(store).__name__}")


class AMPEngine:
    """AMP state, patterns and scratch arrays on the GPU.

    Parameters
    ----------
    patterns : int8 (P, N) array or a storage of :mod:`wfm.patterns`
    labels : (P,) int8 array
    m, g, B, ext, f : host arrays, all float64 or all float32
        Initial state (copied to the device).
    """

    def __init__(self, patterns, labels, m, g, B, ext, f):
        store = as_storage(patterns)
        _cpu._check_state(store, labels, m, g, B, ext, f)
        self.shape = store.shape
        p, n = store.shape
        self.kind, self._pat, self._stride = _device_storage(store)
        self.dtype = m.dtype
        self._zero = self.dtype.type(0.0)
        self._labels = to_device(labels)
        names = ("m", "g", "B", "ext", "f")
        self._state = {
            k: to_device(a) for k, a in zip(names, (m, g, B, ext, f), strict=True)
        }
        npad = _cpu._padded(n)
        self._mp = cuda.to_device(np.zeros(npad, self.dtype))
        self._wp = cuda.to_device(np.zeros(npad, self.dtype))
        self._raw = cuda.device_array(p, self.dtype)
        self._stab = cuda.device_array(p, self.dtype)
        self._nb_n = blocks_for(n)
        self._nb_p = blocks_for(p)
        self._nb_rows = max(1, min(MAX_ROW_BLOCKS, p))
        self._nch = _row_chunks(p, n)
        self._part = cuda.device_array((self._nch, n), self.dtype)
        self._pn = cuda.device_array((3, self._nb_n), np.float64)
        self._pe = cuda.device_array((1, self._nb_rows), np.float64)
        self._pp = cuda.device_array((1, self._nb_p), np.float64)
        self._pm = cuda.device_array((1, self._nb_n), np.float64)
        self._scal = cuda.to_device(np.zeros(8, np.float64))

    # ------------------------------------------------------------- state
    def state(self) -> dict:
        """Host copies of ``m, g, B, ext, f``."""
        return {k: a.copy_to_host() for k, a in self._state.items()}

    def load_state(self, arrays: dict) -> None:
        for k, v in arrays.items():
            self._state[k].copy_to_device(np.ascontiguousarray(v, dtype=self.dtype))

    # ---------------------------------------------------------- products
    def _fm(self, mp, kappa):
        p, n = self.shape
        fm = _PASSES[self.kind][0]
        fm[self._nb_rows, TPB](
            self._pat, self._stride, n, mp, self._labels, kappa * math.sqrt(n),
            self._raw, self._stab, self._pe, self._zero,
        )  # fmt: skip
        reduce_rows[1, TPB](self._pe, self._nb_rows, self._scal, S_ERR, False)

    def _ftg(self, g):
        p, n = self.shape
        ftg = _PASSES[self.kind][1]
        ftg[(blocks_for(n, 1 << 30), self._nch), TPB](
            self._pat, self._stride, n, g, self._part, self._zero
        )

    # --------------------------------------------------------- iteration
    def iteration(self, *, kappa=0.0, damping=0.0, field="fixed", rho=0.0,
                  gamma=0.0, r=0.0, stop_at_solution=False):  # fmt: skip
        """One AMP iteration on the device (see :func:`wfm.kernels.amp.amp_iteration`).

        Returns
        -------
        wfm.kernels.amp.AMPStep
        """
        p, n = self.shape
        st = self._state
        mode = _cpu.FIELD_MODES.index(field)
        _prep[self._nb_n, TPB](st["m"], self._mp, self._wp, self._pn)
        reduce_rows[1, TPB](self._pn, self._nb_n, self._scal, S_VAR, False)
        self._fm(self._mp, float(kappa))
        stop = bool(stop_at_solution)
        _out[self._nb_p, TPB](
            self._raw, self._labels, st["g"], self._scal, float(n), float(kappa),
            float(damping), stop, self._pp,
        )  # fmt: skip
        reduce_rows[1, TPB](self._pp, self._nb_p, self._scal, S_DG, False)
        self._ftg(st["g"])
        _update[self._nb_n, TPB](
            st["m"], st["B"], st["ext"], st["f"], self._part, self._scal, float(n),
            float(damping), mode, float(rho), float(gamma), float(r), stop, self._pm,
        )  # fmt: skip
        reduce_rows[1, TPB](self._pm, self._nb_n, self._scal, S_MAXDIFF, True)
        s = self._scal.copy_to_host()
        errors = int(s[S_ERR])
        V = max(s[S_VAR] / n, V_MIN)
        if stop and errors == 0:
            return _cpu.AMPStep(errors, 0.0, float(V), 0.0)
        return _cpu.AMPStep(errors, float(s[S_MAXDIFF]), float(V), float(-s[S_DG] / n))

    def count_errors(self, w, kappa=0.0) -> int:
        """Training errors of the ±1 weights ``w`` (one pass over the patterns)."""
        p, n = self.shape
        wp = np.zeros(_cpu._padded(n), self.dtype)
        wp[:n] = w
        wpd = cuda.to_device(wp)
        self._fm(wpd, float(kappa))
        return int(self._scal.copy_to_host()[S_ERR])

    def matvec(self, x):
        """``xi x`` (length P, unnormalised) on the device."""
        p, n = self.shape
        xp = np.zeros(_cpu._padded(n), self.dtype)
        xp[:n] = x
        xd = cuda.to_device(xp)
        self._fm(xd, 0.0)
        return self._raw.copy_to_host()

    def rmatvec(self, y):
        """``xi^T y`` (length N, unnormalised) on the device."""
        p, n = self.shape
        self._ftg(cuda.to_device(np.ascontiguousarray(y, dtype=self.dtype)))
        return self._part.copy_to_host().sum(axis=0, dtype=np.float64)

    def free_entropy(self, *, kappa=0.0) -> float:
        """Bethe (TAP) free entropy per weight of the current state
        (:func:`wfm.kernels.amp.amp_free_entropy`): the pass over the patterns on
        the device, the O(N + P) terms on the host."""
        p, n = self.shape
        s = self.state()
        m64 = s["m"].astype(np.float64)
        V = max(float(np.sum(1.0 - m64**2)) / n, V_MIN)
        raw = self.matvec(s["m"]).astype(np.float64)
        labels = self._labels.copy_to_host()
        return float(
            _cpu._free_entropy_terms(
                raw, labels, m64, *(s[k].astype(np.float64) for k in ("g", "B", "ext",
                                                                      "f")),
                float(kappa), V,
            )
        )  # fmt: skip


# ----------------------------------------- function API (the CPU signatures)
def amp_iteration(patterns, labels, m, g, B, ext, f, *, kappa=0.0, damping=0.0,
                  field="fixed", rho=0.0, gamma=0.0, r=0.0, stop_at_solution=False,
                  workspace=None, parallel=None):  # fmt: skip
    """:func:`wfm.kernels.amp.amp_iteration` on the GPU: uploads the state, runs one
    iteration, copies it back (for tests; a learner keeps an :class:`AMPEngine`)."""
    if field not in _cpu.FIELD_MODES:
        raise ValueError(
            f"field must be one of {', '.join(_cpu.FIELD_MODES)}; got {field!r}"
        )
    eng = AMPEngine(patterns, labels, m, g, B, ext, f)
    step = eng.iteration(
        kappa=kappa, damping=damping, field=field, rho=rho, gamma=gamma, r=r,
        stop_at_solution=stop_at_solution,
    )  # fmt: skip
    for k, a in zip("m g B ext f".split(), (m, g, B, ext, f), strict=True):
        a[:] = eng._state[k].copy_to_host()
    return step


def amp_free_entropy(patterns, labels, m, g, B, ext, f, *, kappa=0.0, parallel=None):
    """:func:`wfm.kernels.amp.amp_free_entropy` with the pattern pass on the GPU."""
    return AMPEngine(patterns, labels, m, g, B, ext, f).free_entropy(kappa=kappa)


def _engine_for_products(patterns, dtype):
    store = as_storage(patterns)
    p, n = store.shape
    z = np.zeros
    return AMPEngine(store, np.ones(p, np.int8), z(n, dtype), z(p, dtype),
                     z(n, dtype), z(n, dtype), z(n, dtype))  # fmt: skip


def matvec(patterns, m, *, parallel=None):
    """``xi m`` (length P, unnormalised) on the GPU."""
    m = np.asarray(m)
    dtype = m.dtype if m.dtype == np.float32 else np.dtype(np.float64)
    return _engine_for_products(patterns, dtype).matvec(m)


def rmatvec(patterns, g, *, parallel=None):
    """``xi^T g`` (length N, unnormalised) on the GPU."""
    g = np.asarray(g)
    dtype = g.dtype if g.dtype == np.float32 else np.dtype(np.float64)
    return _engine_for_products(patterns, dtype).rmatvec(g).astype(dtype)


# ------------------------------------------------------------------- bench
def bench_amp(
    n,
    alpha,
    device="cuda",
    *,
    storages=("int8", "bits", "hashed"),
    dtypes=("float64", "float32"),
    reference=True,
    min_time=1.0,
    seed=0,
):
    """Iterations per second of :class:`AMPEngine` per storage and dtype, bytes of
    the pattern matrix read per iteration and the resulting bandwidth, against the
    device-to-device copy bandwidth of the GPU (the yardstick) and, in the same run,
    the CPU kernels (:func:`wfm.kernels.amp.bench_amp`, ``reference``: also numpy).

    Returns
    -------
    dict
        As :func:`wfm.kernels.amp.bench_amp`, rows with ``device``.
    """
    p = int(round(alpha * n))
    rows = []
    for kind in storages:
        store, labels = _patterns.random_instance(seed, p, n, kind)
        for dt in dtypes:
            rng = np.random.default_rng(seed)
            m = (0.5 * (2.0 * rng.random(n) - 1.0)).astype(dt)
            z = np.zeros
            eng = AMPEngine(store, labels, m, z(p, dt), z(n, dt), z(n, dt), z(n, dt))

            def step(eng=eng):
                eng.iteration(damping=0.5)

            ips = _cpu._time_iterations(step, min_time)
            moved = 2 * store.pass_bytes
            rows.append({
                "device": "cuda", "storage": kind, "dtype": dt, "iters_per_s": ips,
                "bytes_per_iter": moved, "GBs": moved * ips / 1e9,
                "Gentries_per_s": 2 * n * p * ips / 1e9,
            })  # fmt: skip
            del eng
    cpu = _cpu.bench_amp(
        n, alpha, storages=("bits",), dtypes=("float32",), reference=reference,
        min_time=min_time, seed=seed,
    )  # fmt: skip
    for row in cpu["rows"]:
        rows.append({"device": "cpu", **row})
    return {
        "n": n,
        "p": p,
        "gpu": cuda.get_current_device().name.decode()
        if isinstance(cuda.get_current_device().name, bytes)
        else str(cuda.get_current_device().name),
        "device_copy_bandwidth_GBs": _device_copy_bandwidth() / 1e9,
        "copy_bandwidth_GBs": cpu["copy_bandwidth_GBs"],
        "threads": cpu["threads"],
        "rows": rows,
    }


def _device_copy_bandwidth(nbytes=1 << 30, repeats=5):
    """Device-to-device copy bandwidth (read + write), bytes/s, best of repeats."""
    a = cuda.device_array(nbytes // 8, np.float64)
    b = cuda.device_array(nbytes // 8, np.float64)
    best = math.inf
    for _ in range(repeats):
        cuda.synchronize()
        t0 = time.perf_counter()
        b.copy_to_device(a)
        cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best
