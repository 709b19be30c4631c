"""Belief propagation for the binary perceptron (Gaussian cavity approximation).

Notation (science.md §4). Patterns enter only through the *signed patterns*
``s[mu, i] = sigma^mu * xi_i^mu`` (int8 for ±1 patterns, float64 for Gaussian ones).

Messages, all in field (atanh) space unless said otherwise:

* ``u[mu, i]``  factor -> variable field, ``t[mu, i] = tanh(u[mu, i])``;
* ``U[i] = sum_mu u[mu, i]`` the pattern part of the total field;
* ``ext[i]``    external field (``lambda * W~_i`` for the local entropy);
* ``f[i]``      focusing field (fBP, Baldassi et al. PNAS 2016 [P0]);
* total field ``H_i = U_i + ext_i + f_i``, magnetisation ``m_i = tanh(H_i)``.

The cavity magnetisation is ``m_{i->mu} = tanh(H_i - u_{mu,i})``. For factor ``mu``
the cavity field of its stability is Gaussian with mean ``omega_c`` and variance
``V_c``; the probability that the pattern is satisfied given ``W_i = w`` is
``H((kappa sqrt(N) - omega_c - w s) / sqrt(V_c))`` with ``H(x) = erfc(x / sqrt 2) / 2``,
so with ``a = (kappa sqrt N - omega_c) / sqrt V_c`` and ``b = |s| / sqrt V_c``
(``1 / sqrt V_c`` for ±1 patterns)::

    u_{mu,i} = sign(s) * g,   g = (ln H(a - b) - ln H(a + b)) / 2,
    t_{mu,i} = sign(s) * (H(a - b) - H(a + b)) / (H(a - b) + H(a + b)).

One erfc pair and one log per edge (plus one exp with damping): the cavity
magnetisations come from the tanh addition formula, other tanh's from
:func:`fast_tanh`. Tails (``a + b > 25``) go to log space with the asymptotic series of
``ln H``; ``g`` is clamped at 30 as in the reference Julia code, ``V_c`` floored at
``1e-12``: no NaN or inf at any field.

Fast path (``bp_sweep(..., fast=True)``): the same schedule and equations, each factor
updated in four vectorisable passes (:func:`_make_fast_update`) with the branch-free
approximations of :mod:`wfm.kernels.approx` instead of libm's scalar erfc/log/exp, which
keep LLVM from vectorising the edge loop. With float64 messages every message is within
~1e-13 of the exact path's; with float32 messages (``u``, ``t`` float32; fields ``U``,
``ext``, ``f`` and ``H`` stay float64) the edge pass runs 8 lanes wide, messages within
~1e-6 and BP fixed points within ~2e-5 of float64 (tests/test_kernels_bp_fast.py). The
exact path (default) is unchanged and stays 1e-10 from :func:`bp_sweep_reference`.

Schedule: factors are visited in a random permutation (drawn by the caller from its
``numpy.random.Generator``), cut into ``shards`` contiguous pieces that are updated in
parallel, one thread a shard, each sequentially (every factor sees the fields changed by
the factors before it in its shard, as in the reference code's sequential schedule); the
shards' field changes are summed at the end of the sweep. ``shards = 1`` is the fully
sequential schedule. One parallel region a sweep, so thread start-up costs nothing; the
result depends on ``shards`` and the permutation, never on the number of threads.
"""

import math
from functools import partial

import numba
import numpy as np

from wfm._numba import njit, pnjit, prange, serial_and_parallel
from wfm.kernels.approx import (
    edge_field,
    edge_field32,
    exp_approx,
    exp_approx32,
    tanh_approx,
    tanh_approx32,
)

LOG_H_SWITCH = 25.0  # above: asymptotic ln H (erfc would underflow past ~37)
FIELD_MAX = 30.0  # clamp of factor->variable fields, as in BinaryCommitteeMachineFBP.jl
V_MIN = 1e-12  # floor of cavity variances
# the tanh addition formula is used only away from saturation, where 1 - m^2 keeps
# full relative precision (it enters the cavity variance, tiny when all m saturate)
RATIONAL_MAX_MAG = 0.999
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@njit
def log_H(x):
    """ln H(x), H(x) = erfc(x/sqrt 2)/2, accurate to ~1e-15 relative for every x."""
    if x < LOG_H_SWITCH:
        return math.log(0.5 * math.erfc(x * _SQRT1_2))
    # asymptotic series of Mills' ratio: H(x) = phi(x)/x (1 - 1/x^2 + 3/x^4 - ...)
    y = 1.0 / (x * x)
    series = 1.0 + y * (-1.0 + y * (3.0 + y * (-15.0 + y * (105.0 + y * (-945.0)))))
    return -0.5 * x * x - math.log(x) - _LOG_SQRT_2PI + math.log(series)


@njit
def fast_tanh(x):
    """tanh through one ``exp`` (libm's tanh is ~3x slower here): abs error < 3e-16.

    Below ``|x| = 0.01`` a Taylor polynomial keeps the relative error ~1e-16 too.
    """
    ax = abs(x)
    if ax < 0.01:
        x2 = x * x
        return x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 - x2 * (17.0 / 315.0))))
    e = math.exp(-2.0 * ax)
    r = (1.0 - e) / (1.0 + e)
    return r if x >= 0.0 else -r


@njit
def log_cosh(x):
    """ln cosh(x) without overflow."""
    ax = abs(x)
    return ax + math.log1p(math.exp(-2.0 * ax)) - math.log(2.0)


@njit
def focusing_field(h, gamma, r):
    """Field of the focusing factor of y = r + 1 replicas at coupling gamma [P0].

    ``atanh(p tanh(r atanh(p tanh(h))))`` with ``p = tanh(gamma)``, through
    ``atanh(tanh(a) tanh(b)) = (ln cosh(a + b) - ln cosh(a - b))/2`` so that neither
    large ``h`` nor ``gamma = inf`` loses precision.
    """
    if r == 0.0 or gamma == 0.0:
        return 0.0
    if math.isinf(gamma):
        return r * h
    inner = 0.5 * (log_cosh(gamma + h) - log_cosh(gamma - h))
    rh = r * inner
    return 0.5 * (log_cosh(gamma + rh) - log_cosh(gamma - rh))


@njit
def exact_edge_field(a, b, si):
    """``(g, tanh g)``: the factor -> variable field of one edge, ``g = sign(si) *
    (ln H(a - b) - ln H(a + b)) / 2`` clamped at ``FIELD_MAX`` (module docstring);
    erfc pair below ``LOG_H_SWITCH``, asymptotic ``ln H`` above."""
    if a + b < LOG_H_SWITCH:
        hm = math.erfc((a - b) * _SQRT1_2)
        hp = math.erfc((a + b) * _SQRT1_2)
        g = 0.5 * math.log(hm / hp)
        tg = (hm - hp) / (hm + hp)
        if g > FIELD_MAX:
            g = FIELD_MAX
            tg = fast_tanh(FIELD_MAX)
    else:
        g = min(0.5 * (log_H(a - b) - log_H(a + b)), FIELD_MAX)
        tg = fast_tanh(g)
    if si < 0.0:
        return -g, -tg
    return g, tg


@njit
def _factor_update(s, mu, u, t, H, M, kappa_sqrt_n, damping, mc):
    """Update the messages of factor ``mu`` in place from total fields ``H``.

    ``H`` (the shard's view of the total fields) is refreshed with the change of
    ``u`` at once, so consecutive factors of a shard see each other (sequential BP);
    ``M = tanh(H)`` is kept alongside so that the cavity magnetisations come from
    ``tanh(H - u) = (M - t) / (1 - M t)``: a division instead of an exp per edge.
    Near saturation (``|M|`` or ``|m| >= 0.999``) that identity would lose the
    relative precision of ``1 - m^2``, so ``tanh(H - u)`` is evaluated instead.
    ``mc`` is scratch space of length N. Returns the largest change of ``t``.
    """
    n = s.shape[1]
    omega = 0.0
    var = 0.0
    for i in range(n):
        ti = t[mu, i]
        m = 1.0
        if abs(M[i]) < RATIONAL_MAX_MAG:
            m = (M[i] - ti) / (1.0 - M[i] * ti)
        if abs(m) >= RATIONAL_MAX_MAG:
            m = fast_tanh(H[i] - u[mu, i])  # cavity magnetisation m_{i->mu}
        mc[i] = m
        omega += s[mu, i] * m
        var += 1.0 - m * m
    maxdiff = 0.0
    for i in range(n):
        m = mc[i]
        si = float(s[mu, i])
        vc = max(var - (1.0 - m * m), V_MIN)
        sq = math.sqrt(vc)
        a = (kappa_sqrt_n - (omega - si * m)) / sq
        g, tg = exact_edge_field(a, abs(si) / sq, si)
        u_old = u[mu, i]
        if damping > 0.0:
            g = (1.0 - damping) * g + damping * u_old
            tg = fast_tanh(g)
        diff = abs(tg - t[mu, i])
        if diff > maxdiff:
            maxdiff = diff
        h = H[i] + (g - u_old)
        H[i] = h
        # tanh(cavity + g) from the two tanh's, with the same guard as above
        mn = 1.0
        if abs(m) < RATIONAL_MAX_MAG:
            mn = (m + tg) / (1.0 + m * tg)
        if abs(mn) >= RATIONAL_MAX_MAG:
            mn = fast_tanh(h)
        M[i] = mn
        u[mu, i] = g
        t[mu, i] = tg
    return maxdiff


def _make_sweep(jit, loop):
    """The sweep over shards, compiled by :func:`wfm._numba.serial_and_parallel`."""

    @jit
    def sweep(s, u, t, U, ext, f, perm, shards, kappa, damping, gamma, r, Hs, diffs):
        p, n = s.shape
        kappa_sqrt_n = kappa * math.sqrt(n)
        for k in loop(shards):
            H = Hs[k]
            M = np.empty(n)
            for i in range(n):
                H[i] = U[i] + ext[i] + f[i]
                M[i] = fast_tanh(H[i])
            mc = np.empty(n)
            dk = 0.0
            for j in range(k * p // shards, (k + 1) * p // shards):
                d = _factor_update(s, perm[j], u, t, H, M, kappa_sqrt_n, damping, mc)
                if d > dk:
                    dk = d
            diffs[k] = dk
        return _merge_and_focus(U, ext, f, Hs, diffs, damping, gamma, r)

    return sweep


@njit
def _merge_and_focus(U, ext, f, Hs, diffs, damping, gamma, r):
    """End of a sweep: merge the shards' field changes in a fixed order (thread-
    independent), then the focusing factors, once per sweep, from the pattern-only
    cavity field. Returns the sweep's largest message change."""
    shards, n = Hs.shape
    for i in range(n):
        base = U[i] + ext[i] + f[i]
        acc = U[i]
        for k in range(shards):
            acc += Hs[k, i] - base
        U[i] = acc
    maxdiff = 0.0
    for k in range(shards):
        maxdiff = max(maxdiff, diffs[k])
    for i in range(n):
        fn = focusing_field(U[i] + ext[i], gamma, r)
        if damping > 0.0:
            fn = (1.0 - damping) * fn + damping * f[i]
        maxdiff = max(maxdiff, abs(math.tanh(fn) - math.tanh(f[i])))
        f[i] = fn
    return maxdiff


_sweep_serial, _sweep_parallel = serial_and_parallel(_make_sweep)


# ---------------------------------------------------------------------------
# fast path: vectorised factor update (wfm.kernels.approx), float64 or float32 messages
# ---------------------------------------------------------------------------
#: local fast-math of the fast factor update: reassociation lets LLVM vectorise the
#: cavity sums (omega, V) of each factor (it cannot reorder a float sum otherwise),
#: contraction fuses multiply-adds. The approximations of wfm.kernels.approx are
#: compiled without flags (their Cody-Waite reduction must not be reassociated); the
#: change of summation order is ~1e-16 relative, inside the fast path's tolerance.
_FAST_FLAGS = {"reassoc", "contract"}
vnjit = partial(
    numba.njit, cache=True, fastmath=_FAST_FLAGS, nogil=True, error_model="numpy"
)


def _make_fast_update(real):
    """The fast factor update in arithmetic ``real`` (float64 or float32), with the
    approximations of :mod:`wfm.kernels.approx` in that precision.

    The precision enters as the constant ``is32``, whose branches numba prunes before
    typing: closing over the approximations themselves would make the closure's cache
    key (a pickle of its cells, dispatchers included) change from process to process,
    and numba would recompile the kernels in every new process.
    """
    is32 = real is np.float32
    one = real(1.0)
    two = real(2.0)
    four = real(4.0)

    @vnjit
    def update(s, mu, u, t, H, kappa_sqrt_n, damping, work):
        """:func:`_factor_update` in four vectorisable passes, no libm call.

        1. (``real``, from the float64 fields) cavity magnetisations ``m = tanh(H -
           u)`` and ``1 - m^2 = 4e/(1 + e)^2`` (``e = exp(-2|H - u|)``: full relative
           precision at saturation, where the exact path switches formula), the sums
           ``omega``, ``V`` (accumulated in ``real``), a copy of the old messages;
        2. (float64 -> ``real``) each edge's cavity variance and stability numerator;
        3. (``real`` only, so float32 runs 8 lanes wide) the new field of every edge
           (:func:`wfm.kernels.approx.edge_field`), damped, stored in the dtype of
           ``u``; ``dmax`` keeps the largest change of ``t[:, i]`` (elementwise: no
           reduction in the loop);
        4. (float64) ``H`` moves by the *stored* change, so ``U`` stays the sum of
           the stored messages.

        ``work``: ``(6, N)`` scratch of dtype ``real`` (cavity magnetisation and
        variance, edge variance, numerator, old message, ``dmax``).
        """
        n = s.shape[1]
        vc = work[0]
        num = work[1]
        uo = work[2]
        dmax = work[3]
        mc = work[4]
        wc = work[5]
        omega = real(0.0)
        var = real(0.0)
        for i in range(n):
            uo[i] = u[mu, i]
            h = real(H[i] - u[mu, i])
            if is32:
                e = exp_approx32(-two * abs(h))
            else:
                e = exp_approx(-two * abs(h))
            q = one / (one + e)
            m = math.copysign((one - e) * q, h)
            w = four * e * q * q
            mc[i] = m
            wc[i] = w
            omega += real(s[mu, i]) * m
            var += w
        for i in range(n):
            vc[i] = max(var - wc[i], V_MIN)
            num[i] = kappa_sqrt_n - (omega - s[mu, i] * mc[i])
        damped = damping > 0.0
        d = real(damping)
        d1 = real(1.0 - damping)
        for i in range(n):
            sr = real(s[mu, i])
            isq = one / np.sqrt(vc[i])
            if is32:
                g, tg = edge_field32(num[i] * isq, abs(sr) * isq)
            else:
                g, tg = edge_field(num[i] * isq, abs(sr) * isq)
            g = math.copysign(g, sr)
            tg = math.copysign(tg, sr)
            if damped:
                g = d1 * g + d * uo[i]
                if is32:
                    tg = tanh_approx32(g)
                else:
                    tg = tanh_approx(g)
            u[mu, i] = g
            dmax[i] = max(dmax[i], abs(tg - t[mu, i]))
            t[mu, i] = tg
        for i in range(n):
            H[i] += float(u[mu, i]) - float(uo[i])

    return update


_factor_update_fast64 = _make_fast_update(np.float64)
_factor_update_fast32 = _make_fast_update(np.float32)


def _make_fast_sweep(jit, loop, is32):
    """The fast sweep: the schedule of :func:`_make_sweep`, fast factor updates with
    float32 (``is32``) or float64 messages (a constant, see :func:`_make_fast_update`).
    """

    @jit
    def sweep(s, u, t, U, ext, f, perm, shards, kappa, damping, gamma, r, Hs, diffs):
        p, n = s.shape
        kappa_sqrt_n = kappa * math.sqrt(n)
        for k in loop(shards):
            H = Hs[k]
            for i in range(n):
                H[i] = U[i] + ext[i] + f[i]
            work = np.zeros((6, n), dtype=u.dtype)
            for j in range(k * p // shards, (k + 1) * p // shards):
                if is32:
                    _factor_update_fast32(
                        s, perm[j], u, t, H, kappa_sqrt_n, damping, work
                    )
                else:
                    _factor_update_fast64(
                        s, perm[j], u, t, H, kappa_sqrt_n, damping, work
                    )
            diffs[k] = float(work[3].max()) if n > 0 else 0.0
        return _merge_and_focus(U, ext, f, Hs, diffs, damping, gamma, r)

    return sweep


#: message dtype -> (serial, parallel) fast sweeps
_FAST_SWEEPS = {
    np.dtype(np.float64): serial_and_parallel(partial(_make_fast_sweep, is32=False)),
    np.dtype(np.float32): serial_and_parallel(partial(_make_fast_sweep, is32=True)),
}


def bp_sweep(
    s,
    u,
    t,
    U,
    ext,
    f,
    perm,
    *,
    shards=1,
    kappa=0.0,
    damping=0.0,
    gamma=0.0,
    r=0.0,
    parallel=True,
    fast=False,
):
    """One BP sweep over all factors, then the focusing factors; in place.

    Parameters
    ----------
    s : (P, N) int8 or float64 array
        Signed patterns ``sigma^mu xi^mu``.
    u, t : (P, N) float64 arrays
        Factor -> variable fields and their tanh (updated in place).
    U, ext, f : (N,) float64 arrays
        Pattern fields ``sum_mu u`` (updated), external fields, focusing fields
        (updated).
    perm : (P,) int64 array
        Order in which the factors are visited.
    shards : int
        The permuted factors are cut into this many contiguous shards, updated in
        parallel; inside a shard the update is sequential. ``1`` = fully sequential.
    kappa, damping : float
        Margin of the stabilities, damping of the messages in field space.
    gamma, r : float
        Focusing coupling (``inf`` allowed) and ``r = y - 1``; ``r = 0`` is plain BP.
    parallel : bool
        Run the shards on several threads (same result as ``False``).
    fast : bool
        The fast path: the vectorised update of :func:`_factor_update_fast` with the
        approximations of :mod:`wfm.kernels.approx` (error < 2e-13 per message), same
        schedule. ``u``/``t`` may then be float32 (messages stored in float32, half
        the memory traffic; arithmetic and the fields ``U``, ``ext``, ``f`` stay
        float64). Not bit-identical to the exact path: fixed points agree to the
        tolerances of tests/test_kernels_bp_fast.py. ``False`` (default): the exact
        float64 path, 1e-10 from :func:`bp_sweep_reference`.

    Returns
    -------
    float
        Largest change of a message in magnetisation space.
    """
    shards = int(max(1, min(shards, s.shape[0])))
    Hs = np.empty((shards, s.shape[1]))
    diffs = np.zeros(shards)
    if fast:
        if u.dtype != t.dtype or u.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"fast BP needs u and t of one dtype, float32 or float64; got "
                f"{u.dtype} and {t.dtype}"
            )
        serial, par = _FAST_SWEEPS[u.dtype]
        kernel = par if parallel and shards > 1 else serial
    else:
        if u.dtype != np.float64 or t.dtype != np.float64:
            raise TypeError(
                f"exact BP needs float64 u and t, got {u.dtype} and {t.dtype} "
                "(float32 messages run on the fast path only: fast=True)"
            )
        kernel = _sweep_parallel if parallel and shards > 1 else _sweep_serial
    return kernel(
        s,
        u,
        t,
        U,
        ext,
        f,
        perm.astype(np.int64),
        shards,
        float(kappa),
        float(damping),
        float(gamma),
        float(r),
        Hs,
        diffs,
    )


@pnjit
def _bethe_terms(s, u, U, ext, f, kappa):
    p, n = s.shape
    kappa_sqrt_n = kappa * math.sqrt(n)
    fac = np.empty(p)
    for mu in prange(p):
        omega = 0.0
        var = 0.0
        edge = 0.0
        for i in range(n):
            h = U[i] + ext[i] + f[i]
            hc = h - u[mu, i]
            mc = math.tanh(hc)
            omega += s[mu, i] * mc
            var += 1.0 - mc * mc
            edge += log_cosh(hc) - log_cosh(h)
        fac[mu] = log_H((kappa_sqrt_n - omega) / math.sqrt(max(var, V_MIN))) + edge
    total = 0.0
    for mu in range(p):
        total += fac[mu]
    for i in range(n):
        total += math.log(2.0) + log_cosh(U[i] + ext[i] + f[i])
    return total


def bethe_free_entropy(s, u, U, ext, f=None, *, kappa=0.0):
    """Bethe free entropy per variable, ``(1/N) ln Z`` of the factor graph.

    ``Z = sum_W prod_mu 1[Delta^mu > kappa] exp(sum_i ext_i W_i)``, evaluated at the
    current messages: ``sum_mu ln Z_mu + sum_i ln 2cosh H_i + sum_{mu,i} ln(cosh(H_i -
    u_{mu,i}) / cosh H_i)``. Meaningful at a fixed point of plain BP (``f = 0``).
    """
    if f is None:
        f = np.zeros_like(U)
    return _bethe_terms(s, u, U, ext, f, float(kappa)) / s.shape[1]


def _make_count_errors(jit, loop):
    @jit
    def count(s, w, kappa):
        p, n = s.shape
        thr = kappa * math.sqrt(n)
        bad = np.zeros(p, dtype=np.int64)
        for mu in loop(p):
            acc = 0.0
            for i in range(n):
                acc += s[mu, i] * w[i]
            if acc <= thr:
                bad[mu] = 1
        return bad.sum()

    return count


_count_errors_serial, _count_errors = serial_and_parallel(_make_count_errors)

COUNT_PARALLEL_MIN_EDGES = 4_000_000
"""Below this many pattern entries the error count runs on one thread: fBP counts
after every sweep, and starting the threads (~50 ms on a busy 2-core machine, measured
at N = 1001, alpha = 0.6) cost more than the count itself (~0.5 ms serial)."""


def count_errors(s, w, kappa=0.0):
    """Number of patterns with stability ``s^mu . w / sqrt(N) <= kappa``."""
    serial = s.size < COUNT_PARALLEL_MIN_EDGES
    kernel = _count_errors_serial if serial else _count_errors
    return int(kernel(s, np.asarray(w, dtype=np.float64), float(kappa)))


# ---------------------------------------------------------------------------
# plain-numpy reference, same schedule, obviously correct (slow)
# ---------------------------------------------------------------------------
def log_H_reference(x):
    """ln H(x) through scipy's log_ndtr (used to test :func:`log_H`)."""
    from scipy.special import log_ndtr

    return log_ndtr(-np.asarray(x, dtype=np.float64))


def bp_sweep_reference(
    s, u, t, U, ext, f, perm, *, shards=1, kappa=0.0, damping=0.0, gamma=0.0, r=0.0
):
    """numpy version of :func:`bp_sweep`: the formulas of the module docstring.

    Evaluates every ``ln H`` with scipy's ``log_ndtr`` and the fields with ``tanh``/
    ``atanh``-free closed forms, one factor at a time (vectorised over variables).
    """
    from scipy.special import log_ndtr

    p, n = s.shape
    shards = int(max(1, min(shards, p)))
    kappa_sqrt_n = kappa * np.sqrt(n)
    maxdiff = 0.0
    base = U + ext + f
    dU = np.zeros(n)
    for k in range(shards):
        H = base.copy()
        for mu in perm[k * p // shards : (k + 1) * p // shards]:
            sf = s[mu].astype(np.float64)
            mc = np.tanh(H - u[mu])
            omega, var = sf @ mc, np.sum(1.0 - mc**2)
            vc = np.maximum(var - (1.0 - mc**2), V_MIN)
            a = (kappa_sqrt_n - (omega - sf * mc)) / np.sqrt(vc)
            b = np.abs(sf) / np.sqrt(vc)
            g = 0.5 * (log_ndtr(-(a - b)) - log_ndtr(-(a + b)))
            g = np.minimum(g, FIELD_MAX) * np.sign(sf)
            if damping > 0:
                g = (1 - damping) * g + damping * u[mu]
            tg = np.tanh(g)
            maxdiff = max(maxdiff, float(np.max(np.abs(tg - t[mu]))))
            H += g - u[mu]
            u[mu], t[mu] = g, tg
        dU += H - base
    U += dU
    fn = np.array([focusing_field(h, gamma, r) for h in U + ext])
    if damping > 0:
        fn = (1 - damping) * fn + damping * f
    maxdiff = max(maxdiff, float(np.max(np.abs(np.tanh(fn) - np.tanh(f)))))
    f[:] = fn
    return maxdiff


def bethe_free_entropy_reference(s, u, U, ext, f=None, *, kappa=0.0):
    """numpy version of :func:`bethe_free_entropy`."""
    from scipy.special import log_ndtr

    p, n = s.shape
    f = np.zeros_like(U) if f is None else f
    H = U + ext + f
    hc = H[None, :] - u
    mc = np.tanh(hc)
    omega = (s * mc).sum(axis=1)
    var = np.maximum((1 - mc**2).sum(axis=1), V_MIN)
    lc = lambda x: np.logaddexp(x, -x) - np.log(2.0)  # noqa: E731
    total = log_ndtr(-(kappa * np.sqrt(n) - omega) / np.sqrt(var)).sum()
    total += (lc(hc) - lc(H)[None, :]).sum() + (np.log(2.0) + lc(H)).sum()
    return total / n
