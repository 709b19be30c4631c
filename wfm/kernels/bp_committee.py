"""Belief propagation for committee and parity machines with binary weights.

The factor graph of a two-layer machine with ``K`` hidden units (the one of
BinaryCommitteeMachineFBP.jl, Baldassi et al. PNAS 2016 [P0], SI): for every pattern
``mu`` a hidden variable ``tau_k^mu = ±1`` per unit, an *input factor*
``1[tau_k = sign(W_k . xi_k^mu)]`` per unit and one *output factor* on the ``K`` hidden
variables, ``1[sigma^mu = sign(sum_k tau_k)]`` (committee, ``K`` odd) or
``1[sigma^mu = prod_k tau_k]`` (parity). Unit ``k`` reads the inputs
``xi[mu, k * stride + j]``, ``j < n``: ``stride = n`` for tree machines (disjoint
blocks), ``stride = 0`` for the fully connected committee (every unit sees all ``n``
inputs). Weights, fields and messages to the weights are ``(K, n)`` arrays.

Messages, in field (atanh) space:

* ``u[mu, k, j]``  input factor ``(mu, k)`` -> weight ``W_kj``, ``t = tanh(u)``;
* ``U[k, j] = sum_mu u[mu, k, j]``; ``ext`` external and ``f`` focusing fields; total
  field ``H = U + ext + f``, cavity magnetisation ``m_{kj->mu} = tanh(H - u)``;
* ``vup[mu, k]``  input factor -> ``tau_k`` (= ``tau_k`` -> output factor, the hidden
  variable has only these two factors);
* ``vdn[mu, k]``  output factor -> ``tau_k`` (= ``tau_k`` -> input factor).

Input factor (Gaussian cavity approximation at the input layer, O(n) per unit, sums
computed once and corrected per edge as in :mod:`wfm.kernels.bp`): with
``omega = sum_j xi_j m_j``, ``V = sum_j xi_j^2 (1 - m_j^2)``,

    vup = (ln H(-omega / sqrt V) - ln H(omega / sqrt V)) / 2,

and, with the cavity ``omega_c = omega - xi_j m_j``, ``V_c = V - xi_j^2 (1 - m_j^2)``,
``a_s = (omega_c + s xi_j) / sqrt V_c`` and ``h = vdn[mu, k]``,

    P(W_kj = s) ∝ e^{h} (1 - H(a_s)) + e^{-h} H(a_s)
              ∝ p erfc(-a_s / sqrt 2) + q erfc(a_s / sqrt 2),
    u = (ln P(+1) - ln P(-1)) / 2,

``p = 1/(1 + e^{-2h})``, ``q = 1 - p`` (the reference's ``erfmix``). Every term is
positive, ``|h| <= 30``, so ``P(±1) >= ~1e-26``: no cancellation, no ``log 0``.

Output factor, exact (``K`` small). Committee: with ``p_l = P(sigma tau_l = +1) =
1/(1 + e^{-2 sigma vup_l})`` the count ``c`` of agreeing units among ``l != k`` has a
Poisson-binomial law (a DP over the count, O(K^2) per unit) and

    vdn_k = sigma (ln P(c >= (K-1)/2) - ln P(c >= (K+1)/2)) / 2.

Parity: ``vdn_k = sigma atanh(prod_{l != k} tanh vup_l)``, evaluated pairwise through
``atanh(tanh a tanh b) = (ln cosh(a+b) - ln cosh(a-b)) / 2``.

All fields are clamped at ``FIELD_MAX = 30`` (as in :mod:`wfm.kernels.bp` and the Julia
code), variances floored at ``V_MIN``; damping acts in field space on ``u``, ``vup`` and
``vdn``. Schedule per pattern (that of the reference ``iterate!``): the ``K`` input
factors in order, then the output factor. Patterns are visited in a caller-drawn
permutation cut into ``shards`` contiguous pieces, sequential inside a shard, parallel
across shards, merged in a fixed order (as in :mod:`wfm.kernels.bp`); focusing fields
once per sweep from ``U + ext`` with :func:`wfm.kernels.bp.focusing_field`.
"""

import math

import numpy as np

from wfm._numba import njit, pnjit, prange, serial_and_parallel
from wfm.kernels.bp import FIELD_MAX, V_MIN, focusing_field, log_cosh, log_H

__all__ = [
    "ARCH_COMMITTEE",
    "ARCH_PARITY",
    "bp_machine_sweep",
    "bp_machine_sweep_reference",
    "count_machine_errors",
    "machine_bethe_free_entropy",
    "machine_bethe_free_entropy_reference",
    "output_factor_fields",
    "output_factor_fields_reference",
]

ARCH_COMMITTEE = 0
ARCH_PARITY = 1
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_TINY = 1e-300  # floor of the output-factor probabilities (K = 1 gives exactly 0)


@njit
def _clamp(x):
    return min(max(x, -FIELD_MAX), FIELD_MAX)


@njit
def _atanh_tanh_product(a, b):
    """``atanh(tanh a tanh b)`` without loss of precision at large fields."""
    return 0.5 * (log_cosh(a + b) - log_cosh(a - b))


@njit
def _weight_likelihood(a, pp, pm):
    """``pp erfc(-a/sqrt 2) + pm erfc(a/sqrt 2)`` with one erfc.

    The small tail ``erfc(|a|/sqrt 2)`` is evaluated, the other term as ``2 - tail``
    (exact where it matters: it is then the large term), so every term keeps its
    relative precision (module docstring).
    """
    tail = math.erfc(abs(a) * _SQRT1_2)
    if a >= 0.0:
        return pp * (2.0 - tail) + pm * tail
    return pp * tail + pm * (2.0 - tail)


@njit
def _output_field(vup, mu, k, label, parity, dist):
    """Output factor -> ``tau_k`` field of pattern ``mu`` (unclamped, undamped).

    ``dist`` is scratch space of length ``K``.
    """
    nk = vup.shape[1]
    if parity:
        if nk == 1:
            return label * FIELD_MAX
        g = 0.0
        first = True
        for l in range(nk):
            if l == k:
                continue
            if first:
                g = vup[mu, l]
                first = False
            else:
                g = _atanh_tanh_product(g, vup[mu, l])
        return _clamp(label * g)
    # committee: Poisson-binomial law of the number of agreeing other units
    for c in range(nk):
        dist[c] = 0.0
    dist[0] = 1.0
    top = 0
    for l in range(nk):
        if l == k:
            continue
        pa = 1.0 / (1.0 + math.exp(-2.0 * label * vup[mu, l]))
        top += 1
        for c in range(top, 0, -1):
            dist[c] = dist[c] * (1.0 - pa) + dist[c - 1] * pa
        dist[0] *= 1.0 - pa
    half = (nk - 1) // 2
    a = 0.0
    b = 0.0
    for c in range(half, nk):
        a += dist[c]
        if c > half:
            b += dist[c]
    return _clamp(label * 0.5 * (math.log(max(a, _TINY)) - math.log(max(b, _TINY))))


@njit
def _pattern_update(
    x, labels, mu, stride, u, t, vup, vdn, H, damping, parity, mc, dist
):
    """Update all messages of pattern ``mu`` in place; returns the largest change.

    ``H`` (the shard's view of the total fields, ``(K, n)``) is refreshed at once.
    """
    nk, n = H.shape
    maxdiff = 0.0
    for k in range(nk):
        off = k * stride
        omega = 0.0
        var = 0.0
        for j in range(n):
            m = math.tanh(H[k, j] - u[mu, k, j])  # cavity magnetisation m_{kj->mu}
            mc[j] = m
            xj = float(x[mu, off + j])
            omega += xj * m
            var += xj * xj * (1.0 - m * m)
        # input factor -> hidden unit
        sq = math.sqrt(max(var, V_MIN))
        g = _clamp(0.5 * (log_H(-omega / sq) - log_H(omega / sq)))
        if damping > 0.0:
            g = (1.0 - damping) * g + damping * vup[mu, k]
        maxdiff = max(maxdiff, abs(math.tanh(g) - math.tanh(vup[mu, k])))
        vup[mu, k] = g
        # input factor -> weights, given the hidden unit's cavity field vdn
        h = vdn[mu, k]
        pp = 1.0 / (1.0 + math.exp(-2.0 * h))
        pm = 1.0 / (1.0 + math.exp(2.0 * h))
        for j in range(n):
            m = mc[j]
            xj = float(x[mu, off + j])
            vc = max(var - xj * xj * (1.0 - m * m), V_MIN)
            sq = math.sqrt(vc)
            oc = omega - xj * m
            p_plus = _weight_likelihood((oc + xj) / sq, pp, pm)
            p_minus = _weight_likelihood((oc - xj) / sq, pp, pm)
            g = _clamp(0.5 * math.log(p_plus / p_minus))
            u_old = u[mu, k, j]
            if damping > 0.0:
                g = (1.0 - damping) * g + damping * u_old
            tg = math.tanh(g)
            maxdiff = max(maxdiff, abs(tg - t[mu, k, j]))
            H[k, j] += g - u_old
            u[mu, k, j] = g
            t[mu, k, j] = tg
    # output factor -> hidden units (from the fresh vup)
    label = float(labels[mu])
    for k in range(nk):
        mc[k] = _output_field(vup, mu, k, label, parity, dist)
    for k in range(nk):
        g = mc[k]
        if damping > 0.0:
            g = (1.0 - damping) * g + damping * vdn[mu, k]
        maxdiff = max(maxdiff, abs(math.tanh(g) - math.tanh(vdn[mu, k])))
        vdn[mu, k] = g
    return maxdiff


@njit
def _focusing_update(H, f, k, j, damping, gamma, r):
    """Focusing factor of weight ``(k, j)`` from its cavity field ``H - f``; in place.

    The reference's ``entro_node_update``, visited in the same random order as the
    patterns (``interleave``). Returns the change in magnetisation space.
    """
    hc = H[k, j] - f[k, j]
    fn = focusing_field(hc, gamma, r)
    if damping > 0.0:
        fn = (1.0 - damping) * fn + damping * f[k, j]
    d = abs(math.tanh(fn) - math.tanh(f[k, j]))
    H[k, j] = hc + fn
    f[k, j] = fn
    return d


def _make_sweep(jit, loop):
    """The sweep over shards, compiled by :func:`wfm._numba.serial_and_parallel`."""

    @jit
    def sweep(
        x,
        labels,
        stride,
        u,
        t,
        vup,
        vdn,
        U,
        ext,
        f,
        perm,
        shards,
        damping,
        gamma,
        r,
        parity,
        interleave,
        base,
        Hs,
        diffs,
    ):
        p = u.shape[0]
        nk, n = U.shape
        for k in range(nk):
            for j in range(n):
                base[k, j] = U[k, j] + ext[k, j] + f[k, j]
        nodes = perm.shape[0]
        for s in loop(shards):
            H = Hs[s]
            for k in range(nk):
                for j in range(n):
                    H[k, j] = base[k, j]
            mc = np.empty(max(n, nk))
            dist = np.empty(nk)
            ds = 0.0
            for q in range(s * nodes // shards, (s + 1) * nodes // shards):
                a = perm[q]
                if a < p:
                    d = _pattern_update(
                        x, labels, a, stride, u, t, vup, vdn, H, damping, parity,
                        mc, dist,
                    )  # fmt: skip
                else:
                    d = _focusing_update(H, f, (a - p) // n, (a - p) % n, damping,
                                         gamma, r)  # fmt: skip
                if d > ds:
                    ds = d
            diffs[s] = ds
        # merge the shards' field changes in a fixed order (thread-independent); a
        # focusing node sits in one shard only, its change of f is not a pattern field
        for k in loop(nk):
            for j in range(n):
                acc = base[k, j]
                for s in range(shards):
                    acc += Hs[s, k, j] - base[k, j]
                U[k, j] = acc - ext[k, j] - f[k, j]
        maxdiff = 0.0
        for s in range(shards):
            maxdiff = max(maxdiff, diffs[s])
        if interleave:
            return maxdiff
        # focusing factors [P0], once per sweep, from the pattern-only cavity field
        for k in range(nk):
            for j in range(n):
                fn = focusing_field(U[k, j] + ext[k, j], gamma, r)
                if damping > 0.0:
                    fn = (1.0 - damping) * fn + damping * f[k, j]
                maxdiff = max(maxdiff, abs(math.tanh(fn) - math.tanh(f[k, j])))
                f[k, j] = fn
        return maxdiff

    return sweep


_sweep_serial, _sweep_parallel = serial_and_parallel(_make_sweep)


def bp_machine_sweep(
    x,
    labels,
    stride,
    u,
    t,
    vup,
    vdn,
    U,
    ext,
    f,
    perm,
    *,
    parity=False,
    shards=1,
    damping=0.0,
    gamma=0.0,
    r=0.0,
    interleave=False,
    parallel=True,
):
    """One BP sweep over all patterns of a committee/parity machine; in place.

    Parameters
    ----------
    x : (P, N_in) int8 or float64 array
        Patterns (not multiplied by the labels: the label enters the output factor).
    labels : (P,) array
        Labels ±1.
    stride : int
        Unit ``k`` reads ``x[:, k * stride : k * stride + n]``: ``n`` for tree
        machines, ``0`` for the fully connected committee.
    u, t : (P, K, n) float64 arrays
        Input factor -> weight fields and their tanh (updated).
    vup, vdn : (P, K) float64 arrays
        Input factor -> hidden unit and output factor -> hidden unit fields (updated).
    U, ext, f : (K, n) float64 arrays
        Pattern fields ``sum_mu u`` (updated), external fields, focusing fields
        (updated).
    perm : (P,) or (P + K n,) int array
        Order of the patterns; with ``interleave`` a permutation of the ``P`` patterns
        and the ``K n`` focusing factors (node ``P + k n + j`` is weight ``(k, j)``).
    parity : bool
        Parity output factor instead of the committee majority (``K`` odd then).
    shards, damping, gamma, r, parallel
        As in :func:`wfm.kernels.bp.bp_sweep`.
    interleave : bool
        Focusing factors visited among the patterns in the order ``perm`` (the
        schedule of the reference ``iterate!``) instead of once after them.

    Returns
    -------
    float
        Largest change of a message in magnetisation space.
    """
    perm = np.asarray(perm, dtype=np.int64)
    shards = int(max(1, min(shards, perm.shape[0])))
    Hs = np.empty((shards,) + U.shape)
    diffs = np.zeros(shards)
    kernel = _sweep_parallel if parallel and shards > 1 else _sweep_serial
    return kernel(
        x,
        np.asarray(labels, dtype=np.float64),
        int(stride),
        u,
        t,
        vup,
        vdn,
        U,
        ext,
        f,
        perm,
        shards,
        float(damping),
        float(gamma),
        float(r),
        bool(parity),
        bool(interleave),
        np.empty(U.shape),
        Hs,
        diffs,
    )


@njit
def _output_fields_all(vup, labels, parity, out):
    p, nk = vup.shape
    dist = np.empty(nk)
    for mu in range(p):
        for k in range(nk):
            out[mu, k] = _output_field(vup, mu, k, float(labels[mu]), parity, dist)


def output_factor_fields(vup, labels, *, parity=False):
    """Output factor -> hidden unit fields for every pattern, ``(P, K)`` (clamped)."""
    vup = np.ascontiguousarray(vup, dtype=np.float64)
    out = np.empty_like(vup)
    _output_fields_all(vup, np.asarray(labels, dtype=np.float64), bool(parity), out)
    return out


@njit
def _machine_errors(x, labels, w, stride, parity):
    p = x.shape[0]
    nk, n = w.shape
    bad = np.zeros(p, dtype=np.int64)
    for mu in range(p):
        votes = 0
        prod = 1
        for k in range(nk):
            acc = 0.0
            for j in range(n):
                acc += x[mu, k * stride + j] * w[k, j]
            sk = 1 if acc > 0.0 else (-1 if acc < 0.0 else 0)
            votes += sk
            prod *= sk
        if parity:
            bad[mu] = prod != labels[mu]
        else:
            bad[mu] = labels[mu] * votes <= 0
    return bad.sum()


def count_machine_errors(x, labels, w, stride, *, parity=False):
    """Training errors of weights ``w`` ``(K, n)`` (convention of :mod:`wfm.models`)."""
    return int(
        _machine_errors(
            x,
            np.asarray(labels, dtype=np.int64),
            np.asarray(w, dtype=np.float64),
            int(stride),
            bool(parity),
        )
    )


# ---------------------------------------------------------------------------
# plain-numpy references, same schedule, obviously correct (slow)
# ---------------------------------------------------------------------------
def output_factor_fields_reference(vup, labels, *, parity=False):
    """Output factor messages by brute force over the ``2^K`` hidden configurations.

    ``vdn_k = (ln sum_{tau: tau_k=+1} A(tau) w(tau) - ln sum_{tau_k=-1} ...) / 2`` with
    ``A`` the output constraint and ``w = exp(sum_{l != k} vup_l tau_l)``; clamped.
    """
    from itertools import product

    vup = np.asarray(vup, dtype=np.float64)
    p, nk = vup.shape
    taus = np.array(list(product((-1, 1), repeat=nk)), dtype=np.float64)
    out = np.empty_like(vup)
    for mu in range(p):
        if parity:
            ok = np.prod(taus, axis=1) == labels[mu]
        else:
            ok = np.sign(taus.sum(axis=1)) == labels[mu]
        for k in range(nk):
            others = np.delete(np.arange(nk), k)
            logw = taus[:, others] @ vup[mu, others]
            z = {}
            for s in (-1.0, 1.0):
                sel = ok & (taus[:, k] == s)
                z[s] = np.logaddexp.reduce(logw[sel]) if sel.any() else -np.inf
            g = 0.5 * (z[1.0] - z[-1.0])
            out[mu, k] = np.clip(g, -FIELD_MAX, FIELD_MAX)
    return out


def bp_machine_sweep_reference(
    x,
    labels,
    stride,
    u,
    t,
    vup,
    vdn,
    U,
    ext,
    f,
    perm,
    *,
    parity=False,
    shards=1,
    damping=0.0,
    gamma=0.0,
    r=0.0,
    interleave=False,
):
    """numpy version of :func:`bp_machine_sweep`: the module docstring's formulas.

    Every ``ln H`` through scipy's ``log_ndtr``, the weight messages in log space
    (``logaddexp``), the output factor by brute force over ``2^K`` configurations.
    """
    from scipy.special import log_ndtr

    p = u.shape[0]
    nk, n = U.shape
    nodes = len(perm)
    shards = int(max(1, min(shards, nodes)))
    maxdiff = 0.0

    def damp(new, old):
        return (1 - damping) * new + damping * old if damping > 0 else new

    base = U + ext + f
    dU = np.zeros_like(U)
    f_old = f.copy()
    for s in range(shards):
        H = base.copy()
        for mu in perm[s * nodes // shards : (s + 1) * nodes // shards]:
            if mu >= p:  # focusing factor of weight (k, j)
                k, j = divmod(mu - p, n)
                hc = H[k, j] - f[k, j]
                fn = damp(focusing_field(hc, gamma, r), f[k, j])
                maxdiff = max(maxdiff, abs(np.tanh(fn) - np.tanh(f[k, j])))
                H[k, j], f[k, j] = hc + fn, fn
                continue
            for k in range(nk):
                xk = x[mu, k * stride : k * stride + n].astype(np.float64)
                mc = np.tanh(H[k] - u[mu, k])
                omega = xk @ mc
                var = np.sum(xk**2 * (1 - mc**2))
                sq = np.sqrt(max(var, V_MIN))
                g = np.clip(
                    0.5 * (log_ndtr(omega / sq) - log_ndtr(-omega / sq)),
                    -FIELD_MAX,
                    FIELD_MAX,
                )
                g = damp(g, vup[mu, k])
                maxdiff = max(maxdiff, abs(np.tanh(g) - np.tanh(vup[mu, k])))
                vup[mu, k] = g
                h = vdn[mu, k]
                sqc = np.sqrt(np.maximum(var - xk**2 * (1 - mc**2), V_MIN))
                oc = omega - xk * mc
                logp = {}
                for sgn in (1.0, -1.0):
                    a = (oc + sgn * xk) / sqc
                    # ln[e^h Phi(a) + e^-h Phi(-a)], Phi the Gaussian cdf
                    logp[sgn] = np.logaddexp(h + log_ndtr(a), -h + log_ndtr(-a))
                g = np.clip(0.5 * (logp[1.0] - logp[-1.0]), -FIELD_MAX, FIELD_MAX)
                g = damp(g, u[mu, k])
                tg = np.tanh(g)
                maxdiff = max(maxdiff, float(np.max(np.abs(tg - t[mu, k]))))
                H[k] += g - u[mu, k]
                u[mu, k], t[mu, k] = g, tg
            new = output_factor_fields_reference(
                vup[mu : mu + 1], labels[mu : mu + 1], parity=parity
            )[0]
            new = damp(new, vdn[mu])
            maxdiff = max(
                maxdiff, float(np.max(np.abs(np.tanh(new) - np.tanh(vdn[mu]))))
            )
            vdn[mu] = new
        dU += H - base
    U += dU - (f - f_old)
    if interleave:
        return maxdiff
    fn = np.vectorize(lambda h: focusing_field(h, gamma, r))(U + ext)
    fn = damp(fn, f)
    maxdiff = max(maxdiff, float(np.max(np.abs(np.tanh(fn) - np.tanh(f)))))
    f[:] = fn
    return maxdiff


# ---------------------------------------------------------------------------
# Bethe free entropy of the machine factor graph
# ---------------------------------------------------------------------------
@njit
def _log_output_z(vup, mu, label, parity, dist):
    """``ln Z`` of output factor ``mu`` with cavity fields ``vup[mu]`` (exact)."""
    nk = vup.shape[1]
    if parity:
        g = vup[mu, 0]
        for l in range(1, nk):
            g = _atanh_tanh_product(g, vup[mu, l])
        # (1 + sigma prod tanh) / 2 = e^{sigma g} / 2cosh g, g = atanh(prod tanh)
        return label * g - math.log(2.0) - log_cosh(g)
    for c in range(nk + 1):
        dist[c] = 0.0
    dist[0] = 1.0
    for l in range(nk):
        pa = 1.0 / (1.0 + math.exp(-2.0 * label * vup[mu, l]))
        for c in range(l + 1, 0, -1):
            dist[c] = dist[c] * (1.0 - pa) + dist[c - 1] * pa
        dist[0] *= 1.0 - pa
    a = 0.0
    for c in range((nk + 1) // 2, nk + 1):
        a += dist[c]
    return math.log(max(a, _TINY))


@pnjit
def _machine_bethe_terms(x, labels, stride, u, vup, vdn, U, ext, parity):
    p, nk, n = u.shape
    per = np.empty(p)
    for mu in prange(p):
        dist = np.empty(nk + 1)
        acc = 0.0
        for k in range(nk):
            off = k * stride
            omega = 0.0
            var = 0.0
            for j in range(n):
                h = U[k, j] + ext[k, j]
                hc = h - u[mu, k, j]
                m = math.tanh(hc)
                xj = float(x[mu, off + j])
                omega += xj * m
                var += xj * xj * (1.0 - m * m)
                acc += log_cosh(hc) - log_cosh(h)  # weight-edge terms
            # input factor: ln[e^h Phi(a) + e^-h Phi(-a)] - ln 2cosh h, Phi(a) = H(-a)
            a = omega / math.sqrt(max(var, V_MIN))
            h = vdn[mu, k]
            lp = h + log_H(-a)
            lm = -h + log_H(a)
            top = max(lp, lm)
            acc += top + math.log(math.exp(lp - top) + math.exp(lm - top))
            acc -= math.log(2.0) + log_cosh(h)
            # hidden variable of degree 2: -ln[(1 + tanh vup tanh vdn) / 2]
            acc -= log_cosh(vup[mu, k] + h) - log_cosh(vup[mu, k]) - log_cosh(h)
            acc += math.log(2.0)
        acc += _log_output_z(vup, mu, float(labels[mu]), parity, dist)
        per[mu] = acc
    total = 0.0
    for mu in range(p):
        total += per[mu]
    for k in range(nk):
        for j in range(n):
            total += math.log(2.0) + log_cosh(U[k, j] + ext[k, j])
    return total


def machine_bethe_free_entropy(x, labels, stride, u, vup, vdn, U, ext, *, parity=False):
    """Bethe free entropy per weight, ``ln Z / (K n)``, of the machine factor graph.

    ``Z = sum_W prod_mu 1[sigma^mu = out(W; xi^mu)] exp(sum_kj ext_kj W_kj)`` at the
    current messages (plain BP, no focusing fields), with the Gaussian approximation
    of the input factors and the exact output factor. Terms (fields as in the module
    docstring, ``H = U + ext``, cavity ``m_{kj->mu} = tanh(H_kj - u_mukj)``,
    ``a = omega / sqrt V`` from the cavity sums of unit ``k``, ``Phi`` the Gaussian
    cdf):

    * weight variables: ``sum_kj ln 2cosh H_kj``;
    * weight edges: ``sum_{mu kj} [ln cosh(H_kj - u_mukj) - ln cosh H_kj]``;
    * input factors: ``sum_{mu k} ln[(e^h Phi(a) + e^{-h} Phi(-a)) / 2cosh h]``,
      ``h = vdn_mu k`` (the hidden unit's message from the output side);
    * hidden variables (degree 2, variable term minus its two edge terms):
      ``- sum_{mu k} ln[(1 + tanh vup tanh vdn) / 2]``;
    * output factors, exact: ``ln P(out(tau) = sigma^mu)`` with independent
      ``P(tau_k) ∝ e^{vup_k tau_k}`` (Poisson-binomial tail for the committee,
      ``(1 + sigma prod_k tanh vup_k) / 2`` for parity).

    At a BP fixed point it is stationary in the messages, so ``d/d lambda`` of it
    with ``ext = lambda W~`` is ``sum_kj W~_kj tanh H_kj / (K n)``.
    """
    total = _machine_bethe_terms(
        x,
        np.asarray(labels, dtype=np.float64),
        int(stride),
        u,
        vup,
        vdn,
        U,
        ext,
        bool(parity),
    )
    return total / U.size


def machine_bethe_free_entropy_reference(
    x, labels, stride, u, vup, vdn, U, ext, *, parity=False
):
    """numpy version of :func:`machine_bethe_free_entropy` (output factor by brute
    force over the ``2^K`` hidden configurations)."""
    from itertools import product

    from scipy.special import log_ndtr

    p, nk, n = u.shape

    def lc(z):
        return np.logaddexp(z, -z) - np.log(2.0)

    H = U + ext
    total = float(np.sum(np.log(2.0) + lc(H)))
    taus = np.array(list(product((-1, 1), repeat=nk)), dtype=np.float64)
    for mu in range(p):
        for k in range(nk):
            xk = x[mu, k * stride : k * stride + n].astype(np.float64)
            hc = H[k] - u[mu, k]
            mc = np.tanh(hc)
            total += float(np.sum(lc(hc) - lc(H[k])))
            a = xk @ mc / np.sqrt(max(np.sum(xk**2 * (1 - mc**2)), V_MIN))
            h = vdn[mu, k]
            total += np.logaddexp(h + log_ndtr(a), -h + log_ndtr(-a))
            total -= np.log(2.0) + lc(h)
            total -= np.log((1 + np.tanh(vup[mu, k]) * np.tanh(h)) / 2)
        out = np.prod(taus, axis=1) if parity else np.sign(taus.sum(axis=1))
        logw = taus @ vup[mu] - np.sum(np.log(2.0) + lc(vup[mu]))
        total += np.logaddexp.reduce(logw[out == labels[mu]])
    return total / U.size
