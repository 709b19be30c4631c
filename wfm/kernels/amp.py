"""AMP form of (focusing) belief propagation for the binary perceptron.

The derivation, with references, is in ``docs/amp.md``; notation of science.md §4.
With ``F[mu, i] = xi_i^mu / sqrt(N)``, magnetisations ``m_i``, variances
``Delta_i = 1 - m_i^2`` and output messages ``g_mu``, one iteration is

    V       = sum_i Delta_i / N
    omega   = F m - V g_old                              (Onsager term)
    u       = (sigma omega - kappa) / sqrt V
    g       = sigma sqrt(2/pi) / (sqrt V erfcx(-u / sqrt 2))
    dg      = -g (g + (omega - sigma kappa) / V)
    A       = -sum_mu dg_mu / N
    B       = F^T g + A m                                (Onsager term)
    m       = tanh(B + ext + f)

``g = d/d omega ln H((kappa - sigma omega)/sqrt V)`` is the output function of the
sign channel with margin ``kappa`` (GAMP, Rangan 2011; for the perceptron Kabashima
& Uda 2004, Krzakala et al. 2012), written with the scaled complementary error
function ``erfcx(x) = exp(x^2) erfc(x)`` so that it never divides 0 by 0: ``g -> 0``
(``erfcx -> inf``) for well-satisfied patterns, ``g ~ |omega|/V`` for violated ones.

Damping ``d``: ``g <- (1-d) g_new + d g_old`` and ``B <- (1-d) B_new + d B_old``
(the Onsager terms use the damped values; fixed points are unchanged).

External fields: ``ext`` is fixed (e.g. ``lambda W~`` for the local entropy), ``f`` is
updated by ``field``:

* ``"fixed"``: ``f`` unchanged (plain AMP, free entropy);
* ``"reinforcement"``: ``f <- rho (B_old + ext + f_old)``, i.e. the field of iteration
  t is ``rho_t`` times the total field of iteration t-1 (a deterministic form of the
  reinforcement of Braunstein & Zecchina 2006; the same update as public Julia AMP
  code for the perceptron, ``B = xi g + A m + r B``). At fixed ``B`` its fixed point is
  ``f = rho/(1-rho) (B + ext)``: fBP's standard reinforcement ``gamma = inf``,
  ``y - 1 = rho/(1-rho)`` [P0], accumulated over iterations;
* ``"focusing"``: ``f = focusing_field(B + ext, gamma, r)``, the message of fBP's
  focusing factor (``y = r + 1`` replicas at coupling ``gamma``, [P0]), from the
  pattern field ``B`` (the AMP ``U``), damped like ``B``.

Two matrix-vector products an iteration, each one pass over the patterns, in numba,
for each storage of :mod:`wfm.patterns` (int8, bit-packed, hashed on the fly):
``F m`` parallel over rows (and ``F sign(m)`` in the same pass: the training errors of
the current weights ``sign(m)`` cost no extra read of the matrix), ``F^T g`` parallel
over blocks of columns. Partitions are fixed, so results do not depend on the number
of threads. These two products are compiled with ``fastmath={"reassoc", "contract"}``
(unlike the rest of wfm, see :mod:`wfm._numba`): without reassociation LLVM cannot
vectorise a floating-point reduction, and the products run ~6x slower; the change of
summation order is ~1e-16 relative, well inside the 1e-10 of the tests against the
numpy reference. Everything O(N + P) is plain float64 arithmetic.

Precision: the state arrays (``m, g, B, ext, f``) are float64 or all float32
(float32: the products accumulate in float32, the scalar functions are evaluated in
float64 and rounded; agreement with float64 ~1e-5, see the tests).
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import NamedTuple

import numba
import numpy as np

from wfm._numba import njit
from wfm.kernels.bp import fast_tanh, focusing_field, log_cosh, log_H
from wfm.patterns import (
    DensePatterns,
    HashedPatterns,
    PackedPatterns,
    as_storage,
    random_instance,
    stream_word,
)

__all__ = [
    "FIELD_MODES",
    "AMPEngine",
    "AMPStep",
    "AMPWorkspace",
    "amp_free_entropy",
    "amp_free_entropy_reference",
    "amp_iteration",
    "amp_iteration_reference",
    "bench_amp",
    "erfcx",
    "matvec",
    "rmatvec",
]

FIELD_MODES = ("fixed", "reinforcement", "focusing")
V_MIN = 1e-12  # floor of the variance V (all m_i saturated)
PARALLEL_MIN_ENTRIES = 1 << 20  # threads for the passes from this N P on
MAX_ROW_CHUNKS = 32  # F^T g: at most this many row chunks (>= 64 rows each)
_SQRT_PI = math.sqrt(math.pi)
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_ERFCX_SERIES_X = 12.0  # above: asymptotic series of erfcx (12 terms, < 1e-16)
_ERFCX_OVERFLOW_X = -26.7  # below: exp(x^2) overflows, erfcx = inf

# the pattern passes only: reassociation lets LLVM vectorise the reductions
vnjit = partial(numba.njit, cache=True, fastmath={"reassoc", "contract"}, nogil=True)
vpnjit = partial(vnjit, parallel=True)


# ------------------------------------------------------------------- erfcx
@njit
def _exp_sq(x):
    """``exp(x^2)`` with ``x^2`` split exactly into ``hi + lo`` (Dekker): the rounding
    of ``x^2`` (relative 1e-16, absolute ~1e-13 at x = 25) would otherwise be
    amplified by the exponential."""
    hi = x * x
    c = 134217729.0 * x  # 2^27 + 1
    xh = c - (c - x)
    xl = x - xh
    lo = ((xh * xh - hi) + 2.0 * xh * xl) + xl * xl
    return math.exp(hi) * (1.0 + lo)


@njit
def erfcx(x):
    """Scaled complementary error function ``exp(x^2) erfc(x)``, float64.

    ``x < 12``: ``exp(x^2) erfc(x)`` (libm ``erfc`` keeps full relative precision in
    its tail, ``exp(x^2)`` is evaluated with an exact square); ``x < 0`` through
    ``erfcx(x) = 2 exp(x^2) - erfcx(-x)`` (no cancellation: the first term is >= 2,
    the second <= 1), ``inf`` below -26.7 where ``exp(x^2)`` overflows; ``x >= 12``:
    the asymptotic series ``(1/(x sqrt pi)) sum_k (-1)^k (2k-1)!! / (2x^2)^k``, 12
    terms (remainder < 1e-16). Relative error ~2e-16 against mpmath (scipy's
    erfcx: up to ~6e-14 for x < -20).
    """
    if x != x:
        return x
    ax = -x if x < 0.0 else x
    if ax < _ERFCX_SERIES_X:
        pos = _exp_sq(ax) * math.erfc(ax)
    else:
        y = 1.0 / (2.0 * ax * ax)
        s = 1.0
        t = 1.0
        for k in range(1, 13):
            t *= -(2.0 * k - 1.0) * y
            s += t
        pos = s / (ax * _SQRT_PI)
    if x >= 0.0:
        return pos
    if x < _ERFCX_OVERFLOW_X:
        return math.inf
    return 2.0 * _exp_sq(x) - pos


@njit
def output_function(omega, V, sigma, kappa):
    """``(g, dg)``: derivative in ``omega`` of ``ln H((kappa - sigma omega)/sqrt V)``
    and its derivative, for a pattern of label ``sigma`` (float64)."""
    sq = math.sqrt(V)
    u = (sigma * omega - kappa) / sq
    g = sigma * _SQRT_2_PI / (sq * erfcx(-u * _SQRT1_2))
    dg = -g * (g + (omega - sigma * kappa) / V)
    return g, dg


# ------------------------------------------------ pattern passes, per storage
# fm(pat, m, w, out, stab): out = xi m, stab = xi w   (rows, unnormalised)
# ftg(pat, g, out):         out = xi^T g             (columns, unnormalised)
# m, w are zero-padded to 64 * ceil(N / 64) entries; out of ftg has that length too.
# F m: one task a row. F^T g: the rows are cut into a fixed number of chunks (a
# function of P only), each accumulated into its own length-N vector, four rows at a
# time, then summed in chunk order: streaming reads like F m, and a result that does
# not depend on the number of threads. (Column blocks, the other way to parallelise,
# ran 3-5x slower here: the accumulator loop did not vectorise.)
# Index arithmetic is hoisted (``base``): numba's negative-index check on
# ``m[32 * k + b]`` kept LLVM from vectorising the bit loops.
@njit
def _row_chunks(p):
    return max(1, min(MAX_ROW_CHUNKS, p // 64))


@njit
def _sum(a, n):
    s = a.dtype.type(0.0)
    for i in range(n):
        s += a[i]
    return s


@njit
def _add_bits4(acc, base, nbits, w0, w1, w2, w3, g0, g1, g2, g3, zero):
    for bb in range(nbits):
        acc[base + bb] += (
            (g0 if (w0 >> bb) & 1 else zero) + (g1 if (w1 >> bb) & 1 else zero)
        ) + ((g2 if (w2 >> bb) & 1 else zero) + (g3 if (w3 >> bb) & 1 else zero))


@njit
def _add_bits1(acc, base, nbits, w0, g0):
    for bb in range(nbits):
        if (w0 >> bb) & 1:
            acc[base + bb] += g0


@njit
def _finish_columns(part, g, p, out):
    # out_i = 2 sum_{bit set} g - sum g, chunks summed in order
    gsum = _sum(g, p)
    nch, npad = part.shape
    for i in range(npad):
        s = part[0, i]
        for c in range(1, nch):
            s += part[c, i]
        out[i] = 2.0 * s - gsum


def _make_passes(parallel):
    """The six pattern passes, compiled with or without threads (same results)."""
    jit = vpnjit if parallel else vnjit

    @jit
    def fm_int8(pat, m, w, out, stab):
        xi = pat[0]
        p, n = xi.shape
        for mu in numba.prange(p):
            a = m.dtype.type(0.0)
            b = m.dtype.type(0.0)
            for i in range(n):
                x = xi[mu, i]
                a += x * m[i]
                b += x * w[i]
            out[mu] = a
            stab[mu] = b

    @jit
    def ftg_int8(pat, g, out):
        xi = pat[0]
        p, n = xi.shape
        nch = _row_chunks(p)
        part = np.zeros((nch, n), g.dtype)
        for c in numba.prange(nch):
            acc = part[c]
            mu = c * p // nch
            r1 = (c + 1) * p // nch
            while mu + 4 <= r1:
                g0, g1, g2, g3 = g[mu], g[mu + 1], g[mu + 2], g[mu + 3]
                for i in range(n):
                    acc[i] += (xi[mu, i] * g0 + xi[mu + 1, i] * g1) + (
                        xi[mu + 2, i] * g2 + xi[mu + 3, i] * g3
                    )
                mu += 4
            while mu < r1:
                gm = g[mu]
                for i in range(n):
                    acc[i] += xi[mu, i] * gm
                mu += 1
        for i in numba.prange(n):
            s = part[0, i]
            for c in range(1, nch):
                s += part[c, i]
            out[i] = s

    @jit
    def fm_bits(pat, m, w, out, stab):
        # xi = 2 bit - 1: sum_i xi_i m_i = 2 sum_{bit set} m_i - sum_i m_i
        words, n = pat
        p, nw = words.shape
        zero = m.dtype.type(0.0)
        msum = _sum(m, n)
        wsum = _sum(w, n)
        for mu in numba.prange(p):
            a = zero
            b = zero
            for k in range(nw):
                wd = np.int64(words[mu, k])
                base = 32 * k
                for bb in range(32):
                    if (wd >> bb) & 1:
                        a += m[base + bb]
                        b += w[base + bb]
            out[mu] = 2.0 * a - msum
            stab[mu] = 2.0 * b - wsum

    @jit
    def ftg_bits(pat, g, out):
        words, n = pat
        p, nw = words.shape
        nch = _row_chunks(p)
        part = np.zeros((nch, 32 * nw), g.dtype)
        zero = g.dtype.type(0.0)
        for c in numba.prange(nch):
            acc = part[c]
            mu = c * p // nch
            r1 = (c + 1) * p // nch
            while mu + 4 <= r1:
                g0, g1, g2, g3 = g[mu], g[mu + 1], g[mu + 2], g[mu + 3]
                for k in range(nw):
                    _add_bits4(
                        acc,
                        32 * k,
                        32,
                        np.int64(words[mu, k]),
                        np.int64(words[mu + 1, k]),
                        np.int64(words[mu + 2, k]),
                        np.int64(words[mu + 3, k]),
                        g0,
                        g1,
                        g2,
                        g3,
                        zero,
                    )
                mu += 4
            while mu < r1:
                for k in range(nw):
                    _add_bits1(acc, 32 * k, 32, np.int64(words[mu, k]), g[mu])
                mu += 1
        _finish_columns(part, g, p, out)

    @jit
    def fm_hashed(pat, m, w, out, stab):
        rkeys, n = pat
        p = rkeys.shape[0]
        nw = (n + 63) // 64
        zero = m.dtype.type(0.0)
        msum = _sum(m, n)
        wsum = _sum(w, n)
        for mu in numba.prange(p):
            r = rkeys[mu]
            a = zero
            b = zero
            for k in range(nw):
                wd = np.int64(stream_word(r, k))
                base = 64 * k
                for bb in range(64):
                    if (wd >> bb) & 1:
                        a += m[base + bb]
                        b += w[base + bb]
            out[mu] = 2.0 * a - msum
            stab[mu] = 2.0 * b - wsum

    @jit
    def ftg_hashed(pat, g, out):
        rkeys, n = pat
        p = rkeys.shape[0]
        nw = (n + 63) // 64
        nch = _row_chunks(p)
        part = np.zeros((nch, 64 * nw), g.dtype)
        zero = g.dtype.type(0.0)
        for c in numba.prange(nch):
            acc = part[c]
            mu = c * p // nch
            r1 = (c + 1) * p // nch
            while mu + 4 <= r1:
                g0, g1, g2, g3 = g[mu], g[mu + 1], g[mu + 2], g[mu + 3]
                r0, ra, rb, rc = rkeys[mu], rkeys[mu + 1], rkeys[mu + 2], rkeys[mu + 3]
                for k in range(nw):
                    _add_bits4(
                        acc,
                        64 * k,
                        64,
                        np.int64(stream_word(r0, k)),
                        np.int64(stream_word(ra, k)),
                        np.int64(stream_word(rb, k)),
                        np.int64(stream_word(rc, k)),
                        g0,
                        g1,
                        g2,
                        g3,
                        zero,
                    )
                mu += 4
            while mu < r1:
                for k in range(nw):
                    _add_bits1(
                        acc, 64 * k, 64, np.int64(stream_word(rkeys[mu], k)), g[mu]
                    )
                mu += 1
        _finish_columns(part, g, p, out)

    return {
        "int8": (fm_int8, ftg_int8),
        "bits": (fm_bits, ftg_bits),
        "hashed": (fm_hashed, ftg_hashed),
    }


_PASSES = {True: _make_passes(True), False: _make_passes(False)}


def _padded(n):
    return 64 * ((n + 63) // 64)


def _use_threads(shape, parallel):
    """Threads only for large matrices: below ~1M entries a pass takes < 0.5 ms and
    waking the threads (on a loaded machine: waiting for them) costs more."""
    if parallel is None:
        return shape[0] * shape[1] >= PARALLEL_MIN_ENTRIES
    return bool(parallel)


def matvec(patterns, m, *, parallel=None):
    """``xi m`` (length P, unnormalised) with the storage's numba pass."""
    store = as_storage(patterns)
    p, n = store.shape
    fm = _PASSES[_use_threads(store.shape, parallel)][store.kind][0]
    m = np.asarray(m)
    dtype = m.dtype if m.dtype == np.float32 else np.float64
    mp = np.zeros(_padded(n), dtype)
    mp[:n] = m
    out = np.empty(p, dtype)
    fm(store.kernel_args(), mp, mp, out, np.empty(p, dtype))
    return out


def rmatvec(patterns, g, *, parallel=None):
    """``xi^T g`` (length N, unnormalised) with the storage's numba pass."""
    store = as_storage(patterns)
    p, n = store.shape
    ftg = _PASSES[_use_threads(store.shape, parallel)][store.kind][1]
    g = np.asarray(g)
    g = g if g.dtype == np.float32 else g.astype(np.float64)
    out = np.empty(_padded(n), g.dtype)
    ftg(store.kernel_args(), np.ascontiguousarray(g), out)
    return out[:n]


# -------------------------------------------------------------- iteration
def _make_iteration(fm, ftg):
    @njit
    def iteration(
        pat, labels, m, g, B, ext, f, kappa, damping, mode, rho, gamma, r, stop, ws
    ):
        mp, wp, raw, stab, acc = ws
        n = m.shape[0]
        p = labels.shape[0]
        sqn = math.sqrt(n)
        var = 0.0
        for i in range(n):
            mi = m[i]
            mp[i] = mi
            wp[i] = 1.0 if mi >= 0.0 else -1.0
            var += 1.0 - float(mi) * float(mi)
        V = max(var / n, V_MIN)
        fm(pat, mp, wp, raw, stab)
        thr = kappa * sqn
        errors = 0
        for mu in range(p):
            if labels[mu] * stab[mu] <= thr:
                errors += 1
        if stop and errors == 0:
            return errors, 0.0, V, 0.0
        sdg = 0.0
        for mu in range(p):
            go = float(g[mu])
            omega = raw[mu] / sqn - V * go
            gn, dg = output_function(omega, V, float(labels[mu]), kappa)
            sdg += dg
            g[mu] = (1.0 - damping) * gn + damping * go
        A = -sdg / n  # sum_mu F_{mu i}^2 (-dg_mu), F^2 = 1/N
        ftg(pat, g, acc)
        maxdiff = 0.0
        for i in range(n):
            bo = float(B[i])
            bn = (1.0 - damping) * (acc[i] / sqn + A * float(m[i])) + damping * bo
            if mode == 1:
                f[i] = rho * (bo + ext[i] + f[i])
            elif mode == 2:
                fn = focusing_field(bn + ext[i], gamma, r)
                f[i] = (1.0 - damping) * fn + damping * f[i]
            B[i] = bn
            mn = fast_tanh(bn + ext[i] + f[i])
            d = abs(mn - m[i])
            if d > maxdiff:
                maxdiff = d
            m[i] = mn
        return errors, maxdiff, V, A

    return iteration


_ITERATIONS = {
    (par, kind): _make_iteration(*fns)
    for par, passes in _PASSES.items()
    for kind, fns in passes.items()
}


class AMPStep(NamedTuple):
    """What one AMP iteration reports.

    ``errors``: training errors of ``sign(m)`` *before* the iteration (ties -> +1);
    ``maxdiff``: largest change of a magnetisation; ``V``, ``A``: the variance and the
    Onsager coefficient of the iteration (``maxdiff = A = 0`` when the iteration
    stopped at a solution).
    """

    errors: int
    maxdiff: float
    V: float
    A: float


class AMPWorkspace(NamedTuple):
    """Scratch arrays of an iteration: padded ``m``, ``sign(m)``, ``xi m``,
    ``xi sign(m)``, ``xi^T g`` (O(N + P))."""

    mp: np.ndarray
    wp: np.ndarray
    raw: np.ndarray
    stab: np.ndarray
    acc: np.ndarray

    @classmethod
    def new(cls, p, n, dtype=np.float64):
        npad = _padded(n)
        return cls(
            np.zeros(npad, dtype),
            np.zeros(npad, dtype),
            np.empty(p, dtype),
            np.empty(p, dtype),
            np.empty(npad, dtype),
        )


def _check_state(store, labels, m, g, B, ext, f):
    p, n = store.shape
    dtype = m.dtype
    if dtype not in (np.float64, np.float32):
        raise TypeError(f"m must be float64 or float32, got {dtype}")
    for name, a, length in (
        ("m", m, n),
        ("g", g, p),
        ("B", B, n),
        ("ext", ext, n),
        ("f", f, n),
    ):
        if a.dtype != dtype or a.shape != (length,) or not a.flags.c_contiguous:
            raise TypeError(
                f"{name} must be a contiguous ({length},) {dtype} array, got "
                f"{a.shape} {a.dtype}"
            )
    if labels.dtype != np.int8 or labels.shape != (p,):
        raise TypeError(f"labels must be a ({p},) int8 array")


def amp_iteration(
    patterns,
    labels,
    m,
    g,
    B,
    ext,
    f,
    *,
    kappa=0.0,
    damping=0.0,
    field="fixed",
    rho=0.0,
    gamma=0.0,
    r=0.0,
    stop_at_solution=False,
    workspace=None,
    parallel=None,
):
    """One AMP iteration, in place on ``m, g, B, f`` (see the module docstring).

    Parameters
    ----------
    patterns : int8 (P, N) array or a storage of :mod:`wfm.patterns`
    labels : (P,) int8 array
    m, B, ext, f : (N,) arrays, all float64 or all float32
        Magnetisations, pattern fields, fixed external fields, focusing fields.
    g : (P,) array, same dtype
        Output messages of the previous iteration (zeros to start).
    kappa, damping : float
        Margin of the stabilities; damping of ``g`` and ``B`` (and ``f`` for
        ``field="focusing"``).
    field : {"fixed", "reinforcement", "focusing"}
        How ``f`` is updated: unchanged; ``f <- rho (B + ext + f)``;
        ``f = focusing_field(B + ext, gamma, r)``.
    rho, gamma, r : float
        Reinforcement; fBP coupling (``inf`` allowed) and ``r = y - 1``.
    stop_at_solution : bool
        Return right after the first pass when ``sign(m)`` has no training errors
        (the state is then left unchanged).
    workspace : AMPWorkspace, optional
        Scratch arrays (allocated when absent).
    parallel : bool, optional
        Threads for the pattern passes; default: only for N P >= 2^20 entries. The
        result does not depend on it.

    Returns
    -------
    AMPStep
    """
    store = as_storage(patterns)
    _check_state(store, labels, m, g, B, ext, f)
    if field not in FIELD_MODES:
        raise ValueError(
            f"field must be one of {', '.join(FIELD_MODES)}; got {field!r}"
        )
    if workspace is None:
        workspace = AMPWorkspace.new(*store.shape, m.dtype)
    out = _ITERATIONS[_use_threads(store.shape, parallel), store.kind](
        store.kernel_args(),
        labels,
        m,
        g,
        B,
        ext,
        f,
        float(kappa),
        float(damping),
        FIELD_MODES.index(field),
        float(rho),
        float(gamma),
        float(r),
        bool(stop_at_solution),
        tuple(workspace),
    )
    return AMPStep(int(out[0]), float(out[1]), float(out[2]), float(out[3]))


class AMPEngine:
    """AMP state and workspace on the CPU: the interface the learner drives on every
    device (:class:`wfm.kernels.amp_cuda.AMPEngine` is the GPU's).

    ``m, g, B, ext, f`` are used in place (no copies); :meth:`state` returns copies.
    """

    def __init__(self, patterns, labels, m, g, B, ext, f):
        self.store = as_storage(patterns)
        _check_state(self.store, labels, m, g, B, ext, f)
        self.shape = self.store.shape
        self.labels = labels
        self.dtype = m.dtype
        self._state = {"m": m, "g": g, "B": B, "ext": ext, "f": f}
        self._ws = AMPWorkspace.new(*self.store.shape, m.dtype)

    def state(self) -> dict:
        """Copies of ``m, g, B, ext, f``."""
        return {k: a.copy() for k, a in self._state.items()}

    def load_state(self, arrays: dict) -> None:
        for k, v in arrays.items():
            self._state[k][:] = v

    def iteration(self, **kwargs) -> AMPStep:
        """One :func:`amp_iteration` (same keywords) on the engine's state."""
        st = self._state
        return amp_iteration(
            self.store, self.labels, st["m"], st["g"], st["B"], st["ext"], st["f"],
            workspace=self._ws, **kwargs,
        )  # fmt: skip

    def count_errors(self, w, kappa=0.0) -> int:
        """Training errors of the ±1 weights ``w`` (one pass over the patterns)."""
        stab = matvec(self.store, np.asarray(w, np.float64))
        thr = kappa * math.sqrt(self.shape[1])
        return int(np.sum(self.labels * stab <= thr))

    def free_entropy(self, *, kappa=0.0) -> float:
        """:func:`amp_free_entropy` of the current state."""
        st = self._state
        return amp_free_entropy(
            self.store, self.labels, st["m"], st["g"], st["B"], st["ext"], st["f"],
            kappa=kappa,
        )  # fmt: skip


# ----------------------------------------------------------- free entropy
@njit
def _free_entropy_terms(raw, labels, m, g, B, ext, f, kappa, V):
    n = m.shape[0]
    sqn = math.sqrt(n)
    sq = math.sqrt(V)
    total = 0.0
    gg = 0.0
    for mu in range(labels.shape[0]):
        go = float(g[mu])
        omega = raw[mu] / sqn - V * go
        total += log_H((kappa - labels[mu] * omega) / sq)
        gg += go * go
    total += 0.5 * V * gg
    for i in range(n):
        h = float(B[i]) + ext[i] + f[i]
        total += math.log(2.0) + log_cosh(h) - float(m[i]) * float(B[i])
    return total / n


def amp_free_entropy(patterns, labels, m, g, B, ext, f, *, kappa=0.0, parallel=None):
    """Bethe (TAP) free entropy per weight in AMP form, ``(1/N) ln Z``.

    ``Z = sum_W prod_mu 1[Delta^mu > kappa] exp(sum_i (ext_i + f_i) W_i)``;
    at the current state (meaningful at a fixed point of ``field="fixed"``)::

        N phi = sum_mu ln H((kappa - sigma_mu omega_mu)/sqrt V) + (V/2) sum_mu g_mu^2
                + sum_i [ln 2cosh(B_i + ext_i + f_i) - m_i B_i],

    ``omega = F m - V g`` (docs/amp.md: the dense limit of the Bethe free entropy
    of :func:`wfm.kernels.bp.bethe_free_entropy`). One pass over the patterns.
    """
    store = as_storage(patterns)
    _check_state(store, labels, m, g, B, ext, f)
    p, n = store.shape
    V = max(float(np.sum(1.0 - m.astype(np.float64) ** 2)) / n, V_MIN)
    raw = matvec(store, m, parallel=parallel).astype(np.float64)
    return float(
        _free_entropy_terms(
            raw,
            labels,
            m.astype(np.float64),
            g.astype(np.float64),
            B.astype(np.float64),
            ext.astype(np.float64),
            f.astype(np.float64),
            float(kappa),
            V,
        )
    )


# ---------------------------------------------------------------------------
# plain-numpy reference, same signatures, obviously correct (slow)
# ---------------------------------------------------------------------------
def _dense_float(patterns):
    if isinstance(patterns, (DensePatterns, PackedPatterns, HashedPatterns)):
        return patterns.to_int8().astype(np.float64)
    return np.asarray(patterns, dtype=np.float64)


def amp_iteration_reference(
    patterns,
    labels,
    m,
    g,
    B,
    ext,
    f,
    *,
    kappa=0.0,
    damping=0.0,
    field="fixed",
    rho=0.0,
    gamma=0.0,
    r=0.0,
    stop_at_solution=False,
    workspace=None,
    parallel=None,
):
    """numpy version of :func:`amp_iteration`: the equations of the module docstring
    with a dense float64 matrix (``patterns`` may be one already), scipy's erfcx and
    numpy's tanh; the state arrays are updated in place in their own dtype."""
    from scipy.special import erfcx as sp_erfcx

    xi = _dense_float(patterns)
    p, n = xi.shape
    sig = labels.astype(np.float64)
    m64, g64, B64 = (a.astype(np.float64) for a in (m, g, B))
    ext64, f64 = ext.astype(np.float64), f.astype(np.float64)
    w = np.where(m64 >= 0.0, 1.0, -1.0)
    errors = int(np.sum(sig * (xi @ w) <= kappa * np.sqrt(n)))
    V = max(np.sum(1.0 - m64**2) / n, V_MIN)
    if stop_at_solution and errors == 0:
        return AMPStep(errors, 0.0, float(V), 0.0)
    F = xi / np.sqrt(n)
    omega = F @ m64 - V * g64
    u = (sig * omega - kappa) / np.sqrt(V)
    gn = sig * np.sqrt(2.0 / np.pi) / (np.sqrt(V) * sp_erfcx(-u / np.sqrt(2.0)))
    dg = -gn * (gn + (omega - sig * kappa) / V)
    A = -np.sum(dg) / n
    g_new = (1.0 - damping) * gn + damping * g64
    B_new = (1.0 - damping) * (F.T @ g_new + A * m64) + damping * B64
    if field == "reinforcement":
        f64 = rho * (B64 + ext64 + f64)
    elif field == "focusing":
        fn = np.array([focusing_field(b, gamma, r) for b in B_new + ext64])
        f64 = (1.0 - damping) * fn + damping * f64
    m_new = np.tanh(B_new + ext64 + f64)
    maxdiff = float(np.max(np.abs(m_new - m64)))
    g[:], B[:], f[:], m[:] = g_new, B_new, f64, m_new
    return AMPStep(errors, maxdiff, float(V), float(A))


def amp_free_entropy_reference(patterns, labels, m, g, B, ext, f, *, kappa=0.0):
    """numpy version of :func:`amp_free_entropy` (scipy's log_ndtr for ln H)."""
    from scipy.special import log_ndtr

    xi = _dense_float(patterns)
    p, n = xi.shape
    m64, g64, B64 = (a.astype(np.float64) for a in (m, g, B))
    V = max(np.sum(1.0 - m64**2) / n, V_MIN)
    omega = xi @ m64 / np.sqrt(n) - V * g64
    h = B64 + ext + f
    total = np.sum(log_ndtr(-(kappa - labels * omega) / np.sqrt(V)))
    total += 0.5 * V * np.sum(g64**2)
    total += np.sum(np.logaddexp(h, -h) - m64 * B64)
    return float(total / n)


# ------------------------------------------------------------------- bench
def _copy_bandwidth(nbytes=1 << 28, repeats=5):
    """Memory bandwidth of a numpy copy (read + write), bytes/s, best of repeats."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best


def _time_iterations(step, min_time, min_iters=3):
    step()  # compile / warm up
    n_done = 0
    t0 = time.perf_counter()
    while True:
        step()
        n_done += 1
        dt = time.perf_counter() - t0
        if dt >= min_time and n_done >= min_iters:
            return n_done / dt


def bench_amp(
    n,
    alpha,
    device="cpu",
    *,
    storages=("int8", "bits", "hashed"),
    dtypes=("float64", "float32"),
    reference=True,
    min_time=1.0,
    seed=0,
):
    """Iterations per second of the AMP kernels and the bytes they move.

    For each storage and dtype: iterations/s of :func:`amp_iteration` (numba, all
    threads), the bytes of the pattern matrix read per iteration (two passes) and the
    resulting read bandwidth; the numpy reference with a dense float64 matrix (BLAS
    ``dgemv``, 8 bytes an entry) for comparison (``reference=False`` skips it: the
    dense matrix takes 8 N P bytes); the bandwidth of a numpy copy of 256 MiB (one
    thread) as the yardstick.

    Returns
    -------
    dict
        ``{"n", "p", "copy_bandwidth_GBs", "threads", "rows": [ {...}, ... ]}``,
        each row with ``storage, dtype, iters_per_s, bytes_per_iter, GBs`` (pattern
        bytes read per second) and ``Gentries_per_s`` (matrix entries processed per
        second, two passes an iteration: the measure for the compute-bound storages).
    """
    if device != "cpu":
        raise NotImplementedError(f"device {device!r}: only 'cpu' is implemented")
    p = int(round(alpha * n))
    rows = []
    labels = None
    for kind in storages:
        store, labels = random_instance(seed, p, n, kind)
        for dt in dtypes:
            rng = np.random.default_rng(seed)
            m = (0.5 * (2.0 * rng.random(n) - 1.0)).astype(dt)
            g, B = np.zeros(p, dt), np.zeros(n, dt)
            ext, f = np.zeros(n, dt), np.zeros(n, dt)
            ws = AMPWorkspace.new(p, n, dt)
            state = (m.copy(), g, B, ext, f)

            def step(store=store, labels=labels, state=state, ws=ws):
                amp_iteration(store, labels, *state, damping=0.5, workspace=ws)

            ips = _time_iterations(step, min_time)
            moved = 2 * store.pass_bytes
            rows.append(
                {
                    "storage": kind,
                    "dtype": dt,
                    "iters_per_s": ips,
                    "bytes_per_iter": moved,
                    "GBs": moved * ips / 1e9,
                    "Gentries_per_s": 2 * n * p * ips / 1e9,
                }
            )
    if reference:
        store, labels = random_instance(seed, p, n, "int8")
        xi = store.xi.astype(np.float64)
        rng = np.random.default_rng(seed)
        state = (0.5 * (2.0 * rng.random(n) - 1.0), np.zeros(p), np.zeros(n))
        zeros = np.zeros(n)

        def ref_step():
            amp_iteration_reference(
                xi, labels, *state, zeros, zeros.copy(), damping=0.5
            )

        ips = _time_iterations(ref_step, min_time)
        moved = 2 * xi.nbytes
        rows.append(
            {
                "storage": "numpy-dense-float64",
                "dtype": "float64",
                "iters_per_s": ips,
                "bytes_per_iter": moved,
                "GBs": moved * ips / 1e9,
                "Gentries_per_s": 2 * n * p * ips / 1e9,
            }
        )
    return {
        "n": n,
        "p": p,
        "threads": numba.get_num_threads(),
        "copy_bandwidth_GBs": _copy_bandwidth() / 1e9,
        "rows": rows,
    }
