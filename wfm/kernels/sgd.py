"""Minibatch kernels of the gradient learners: forward, loss + gradient, errors, rSGD.

Conventions (networks, normalisation, binary latent weights, activations, losses) are
those of the plain-numpy reference :mod:`wfm.models.nets`; each public function here
has a ``*_reference`` twin with the same signature (less ``parallel``) that calls it.
In short:

* perceptron weights ``(N,)``, committee weights ``(K, n)`` (tree: unit ``l`` sees the
  input block ``l``; fully connected: all ``N = n`` inputs);
* ``h_l = W_l . xi_l / sqrt(n_in)`` (``normalise=True``: ``/ |W_l|``, equal on the
  sphere ``|W_l|^2 = n_in``, gradient tangent to it), ``out = sum_l c_l a(h_l) /
  sqrt(K)``, ``Delta = sigma out``;
* ``binary=True``: forward with ``sign(W)`` of latent ``W``, straight-through gradient;
* losses ``ce`` (``ln(1 + e^{-2 gamma Delta}) / (2 gamma)``), ``hinge``
  (``max(0, kappa - Delta)``), ``mse`` (``(1 - Delta)^2 / 2``), minibatch means.

The minibatch is ``x[rows]`` (``rows=None``: all of ``x``), read in place: a learner
passes the whole pattern matrix and a slice of its permutation, no copies.

Parallel schedule of :func:`loss_and_grad`, and why. Phase 1, parallel over the
patterns of the minibatch: fields, output, loss and the back-propagated coefficients
``coef[b, l] = loss'(Delta) sigma c_l a'(h_l) / (sqrt(K) B)``, each pattern writing
its own row. Phase 2, the gradient ``grad[l, i] = scale_l sum_b coef[b, l] x[b, i]``
(a ``(K, B) x (B, N)`` product), parallel over chunks of input columns: every
gradient entry is one sum over the minibatch in pattern order inside one task, so the
result is bitwise independent of the chunking and of the number of threads, with no
cross-thread reduction and no per-thread ``(K, N)`` accumulators to allocate, zero
and merge (with a minibatch of ~100 patterns that merge would cost as much as the
product itself). Parallelising over hidden units instead would leave a perceptron
(``K = 1``) and small ``K`` serial. Both phases are plain loops on contiguous 1-d
views: the column updates vectorise, and dot products keep four fixed partial sums
(:func:`_dot`), since fast-math is off.

Binary rSGD (:func:`rsgd_binary_epoch`) is the algorithm of [P0] (Baldassi et al.,
PNAS 2016, appendix C) for the fully connected binary committee, as implemented in
carlobaldassi/BinaryCommitteeMachineRSGD.jl (``replicatedSGD`` with the traced-out
centre, ``center=false``); see its docstring for the one deliberate difference.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np

from wfm._numba import njit, pnjit, prange
from wfm.models import nets

__all__ = [
    "bench_sgd_epoch",
    "forward",
    "forward_reference",
    "loss_and_grad",
    "loss_and_grad_reference",
    "rsgd_binary_epoch",
    "rsgd_binary_epoch_reference",
    "rsgd_center",
    "train_errors",
    "train_errors_reference",
]

# name -> code passed to the kernels (the names and their meaning: wfm.models.nets)
ACTIVATION_CODES = {name: code for code, name in enumerate(nets.ACTIVATIONS)}
LOSS_CODES = {name: code for code, name in enumerate(nets.LOSSES)}
_LINEAR, _TANH, _RELU, _SIGN = (ACTIVATION_CODES[a] for a in nets.ACTIVATIONS)
_CE, _HINGE, _MSE = (LOSS_CODES[name] for name in nets.LOSSES)
MIN_COLUMN_CHUNK = 64  # fewest input columns per parallel task of the gradient


# ---------------------------------------------------------------------------
# scalar pieces
# ---------------------------------------------------------------------------
@njit
def _activation(h, act):
    """``(a(h), a'(h))``; ``sign`` has no derivative (returns 0)."""
    if act == _LINEAR:
        return h, 1.0
    if act == _TANH:
        t = math.tanh(h)
        return t, 1.0 - t * t
    if act == _RELU:
        if h > 0.0:
            return h, 1.0
        return 0.0, 0.0
    if h > 0.0:
        return 1.0, 0.0
    if h < 0.0:
        return -1.0, 0.0
    return 0.0, 0.0


@njit
def _loss(d, loss, gamma, kappa):
    """``(loss(Delta), loss'(Delta))``, no overflow at any ``gamma Delta``."""
    if loss == _CE:
        if math.isinf(gamma):
            if d < 0.0:
                return -d, -1.0
            return 0.0, 0.0
        z = -2.0 * gamma * d
        # softplus(z) / (2 gamma) and -expit(z), each from exp(-|z|) <= 1
        e = math.exp(-abs(z))
        if z > 0.0:
            return (z + math.log1p(e)) / (2.0 * gamma), -1.0 / (1.0 + e)
        return math.log1p(e) / (2.0 * gamma), -e / (1.0 + e)
    if loss == _HINGE:
        if d < kappa:
            return kappa - d, -1.0
        return 0.0, 0.0
    r = 1.0 - d
    return 0.5 * r * r, -r


@njit
def _prepare(w, normalise, binary, we, scale):
    """Weights used (``sign(W)`` if binary); field scales ``1/sqrt(n)``, ``1/|W_l|``."""
    k, n = w.shape
    for l in range(k):
        ss = 0.0
        for i in range(n):
            v = w[l, i]
            if binary:
                v = 1.0 if v > 0.0 else -1.0
            we[l, i] = v
            ss += v * v
        scale[l] = 1.0 / math.sqrt(ss) if normalise else 1.0 / math.sqrt(n)


@njit
def _dot(w, xr):
    """``w . xr`` with four interleaved partial sums, combined as ``(s0+s1)+(s2+s3)``.

    Fast-math stays off (package rule), so a single running sum could not be
    vectorised and would be bound by the latency of one add per element; four fixed
    partial sums give the same bits on every run and any thread count, ~2x faster.
    """
    n = w.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    m = n - n % 4
    for i in range(0, m, 4):
        s0 += w[i] * xr[i]
        s1 += w[i + 1] * xr[i + 1]
        s2 += w[i + 2] * xr[i + 2]
        s3 += w[i + 3] * xr[i + 3]
    for i in range(m, n):
        s0 += w[i] * xr[i]
    return (s0 + s1) + (s2 + s3)


@njit
def _field(we, scale, x, mu, l, offset):
    n = we.shape[1]
    return _dot(we[l], x[mu, offset : offset + n]) * scale[l]


@njit
def _axpy(a, xr, out):
    """``out += a xr`` on 1-d views (contiguous slices: the loop vectorises)."""
    for i in range(out.shape[0]):
        out[i] += a * xr[i]


# ---------------------------------------------------------------------------
# kernels, each loop body written once and compiled serial and parallel
# ---------------------------------------------------------------------------
def _make_kernels(parallel):
    jit = pnjit if parallel else njit
    loop = prange if parallel else range

    @jit
    def forward_kernel(we, scale, x, rows, fully_connected, act, c, out):
        k, n = we.shape
        inv_sqrt_k = 1.0 / math.sqrt(k)
        for b in loop(rows.shape[0]):
            mu = rows[b]
            s = 0.0
            for l in range(k):
                offset = 0 if fully_connected else l * n
                a, _ = _activation(_field(we, scale, x, mu, l, offset), act)
                s += c[l] * a
            out[b] = s * inv_sqrt_k

    @jit
    def loss_and_grad_kernel(
        we, scale, x, labels, rows, fully_connected, act, c, loss, gamma, kappa,
        normalise, chunk, h, coef, lvals, grad,
    ):  # fmt: skip
        k, n = we.shape
        bsz = rows.shape[0]
        inv_sqrt_k = 1.0 / math.sqrt(k)
        # phase 1: one pattern per task
        for b in loop(bsz):
            mu = rows[b]
            s = 0.0
            for l in range(k):
                offset = 0 if fully_connected else l * n
                hl = _field(we, scale, x, mu, l, offset)
                a, da = _activation(hl, act)
                h[b, l] = hl
                coef[b, l] = c[l] * da
                s += c[l] * a
            sigma = labels[mu]
            lv, dl = _loss(sigma * s * inv_sqrt_k, loss, gamma, kappa)
            lvals[b] = lv
            g = dl * sigma * inv_sqrt_k / bsz
            for l in range(k):
                coef[b, l] *= g
        # normalised fields: dh/dW = scale (xi - h W scale); radial part per unit
        radial = np.zeros(k)
        if normalise:
            for l in range(k):
                acc = 0.0
                for b in range(bsz):
                    acc += coef[b, l] * h[b, l]
                radial[l] = acc * scale[l] * scale[l]
        # phase 2: chunks of input columns, each entry summed in pattern order
        ncols = n if fully_connected else k * n
        nchunks = (ncols + chunk - 1) // chunk
        for ch in loop(nchunks):
            i0 = ch * chunk
            i1 = min(i0 + chunk, ncols)
            if fully_connected:
                l0, l1 = 0, k
            else:
                l0, l1 = i0 // n, (i1 - 1) // n + 1
            for l in range(l0, l1):
                lo = i0 if fully_connected else max(i0, l * n)
                hi = i1 if fully_connected else min(i1, (l + 1) * n)
                off = 0 if fully_connected else l * n
                grad[l, lo - off : hi - off] = 0.0
            for b in range(bsz):
                mu = rows[b]
                for l in range(l0, l1):
                    cl = coef[b, l]
                    if cl == 0.0:  # inactive ReLU / satisfied hinge: nothing to add
                        continue
                    lo = i0 if fully_connected else max(i0, l * n)
                    hi = i1 if fully_connected else min(i1, (l + 1) * n)
                    off = 0 if fully_connected else l * n
                    _axpy(cl, x[mu, lo:hi], grad[l, lo - off : hi - off])
            for l in range(l0, l1):
                lo = i0 if fully_connected else max(i0, l * n)
                hi = i1 if fully_connected else min(i1, (l + 1) * n)
                off = 0 if fully_connected else l * n
                sl = scale[l]
                rl = radial[l]
                for i in range(lo - off, hi - off):
                    grad[l, i] = grad[l, i] * sl - rl * we[l, i]
        total = 0.0
        for b in range(bsz):
            total += lvals[b]
        return total / bsz

    @jit
    def errors_kernel(we, scale, x, labels, rows, fully_connected, act, c, kappa, bad):
        k, n = we.shape
        inv_sqrt_k = 1.0 / math.sqrt(k)
        for b in loop(rows.shape[0]):
            mu = rows[b]
            s = 0.0
            for l in range(k):
                offset = 0 if fully_connected else l * n
                a, _ = _activation(_field(we, scale, x, mu, l, offset), act)
                s += c[l] * a
            bad[b] = 1 if labels[mu] * s * inv_sqrt_k <= kappa else 0
        count = 0
        for b in range(rows.shape[0]):
            count += bad[b]
        return count

    @jit
    def rsgd_kernel(
        H, W, x, labels, perm, batch, lr, lam, gamma, hard, corrected, fully_connected,
        dH, hid, wrongness, target, mistakes,
    ):  # fmt: skip
        y, k, n = H.shape
        p = perm.shape[1]
        gy = gamma * y
        corr = 1.0
        if corrected and not math.isinf(gamma):
            corr = math.tanh(gy)
        for a in loop(y):
            mistakes[a] = 0
            for l in range(k):
                for i in range(n):
                    W[a, l, i] = 1.0 if H[a, l, i] > 0.0 else -1.0
        for start in range(0, p, batch):
            stop = min(start + batch, p)
            # the traced-out centre H^c = mean_a W^a and its pull tanh(gamma y H^c),
            # shared by all replicas of this sub-epoch
            for l in loop(k):
                for i in range(n):
                    acc = 0.0
                    for a in range(y):
                        acc += W[a, l, i]
                    hc = acc / y
                    if math.isinf(gamma):
                        t = 1.0 if hc > 0.0 else (-1.0 if hc < 0.0 else 0.0)
                    elif hard:
                        t = min(1.0, max(-1.0, gy * hc))
                    else:
                        t = math.tanh(gy * hc)
                    target[l, i] = t
            for a in loop(y):
                mistakes[a] += _rsgd_replica_step(
                    H[a], W[a], dH[a], hid[a], wrongness[a], x, labels,
                    perm[a, start:stop], lr, lam, corr, target, fully_connected,
                )  # fmt: skip

    return forward_kernel, loss_and_grad_kernel, errors_kernel, rsgd_kernel


@njit
def _rsgd_replica_step(
    H, W, dH, hid, wrongness, x, labels, idx, lr, lam, corr, target, fully_connected
):  # fmt: skip
    """One minibatch of one replica (BinaryCommitteeMachineRSGD.jl's ``subepoch!`` and
    ``kickboth_traced!``); returns the number of misclassified patterns. A tree
    committee's unit ``l`` sees the input block ``l``."""
    k, n = H.shape
    for l in range(k):
        for i in range(n):
            dH[l, i] = 0.0
    mistakes = 0
    for j in range(idx.shape[0]):
        mu = idx[j]
        sigma = labels[mu]
        hout = 0
        for l in range(k):
            off = 0 if fully_connected else l * n
            acc = _dot(W[l], x[mu, off : off + n])
            hid[l] = acc
            hout += 1 if acc > 0.0 else -1
        tau_out = 1 if hout > 0 else -1
        if tau_out == sigma:
            continue
        mistakes += 1
        # flip the output with the fewest hidden flips: the (1 - sigma hout) / 2 wrong
        # units (sigma h_l <= 0) with the smallest |h_l|, ties to the lower index
        tofix = (1 - sigma * hout) // 2
        for l in range(k):
            wrongness[l] = -sigma * hid[l] if sigma * hid[l] <= 0.0 else np.inf
        step = lr * sigma
        for _ in range(tofix):
            best = 0
            for l in range(1, k):
                if wrongness[l] < wrongness[best]:
                    best = l
            wrongness[best] = np.inf
            off = 0 if fully_connected else best * n
            _axpy(step, x[mu, off : off + n], dH[best])
    for l in range(k):
        for i in range(n):
            v = H[l, i] + dH[l, i]
            w = 1.0 if v > 0.0 else -1.0
            v += lam * (target[l, i] - corr * w)
            H[l, i] = v
            W[l, i] = 1.0 if v > 0.0 else -1.0
    return mistakes


(
    _forward_serial,
    _loss_and_grad_serial,
    _errors_serial,
    _rsgd_serial,
) = _make_kernels(parallel=False)
(
    _forward_parallel,
    _loss_and_grad_parallel,
    _errors_parallel,
    _rsgd_parallel,
) = _make_kernels(parallel=True)


# ---------------------------------------------------------------------------
# public wrappers: validate once, allocate, call the kernel
# ---------------------------------------------------------------------------
def _setup(weights, x, labels, rows, activation, readout, fully_connected, normalise,
           binary):  # fmt: skip
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.ndim not in (1, 2):
        raise ValueError(f"weights must be (N,) or (K, n), got shape {w.shape}")
    w2 = w.reshape(1, -1)
    if w.ndim == 2:
        w2 = w
    k, n = w2.shape
    x = np.asarray(x)
    if x.dtype not in (np.int8, np.float64):
        x = x.astype(np.float64)
    x = np.ascontiguousarray(x)
    n_inputs = n if (fully_connected or w.ndim == 1) else k * n
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise ValueError(
            f"x must be (P, {n_inputs}) for weights of shape {w.shape}, got {x.shape}"
        )
    if activation is None:
        activation = "linear" if w.ndim == 1 else "tanh"
    if activation not in ACTIVATION_CODES:
        raise ValueError(
            f"activation must be one of {', '.join(nets.ACTIVATIONS)}, "
            f"got {activation!r}"
        )
    if normalise and binary:
        raise ValueError("normalise must be False for binary weights, got True")
    c = nets.default_readout(k, activation) if readout is None else readout
    c = np.ascontiguousarray(c, dtype=np.float64)
    if c.shape != (k,):
        raise ValueError(f"readout must have shape ({k},), got {c.shape}")
    p = x.shape[0]
    if rows is None:
        rows = np.arange(p, dtype=np.int64)
    else:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= p)):
            raise ValueError(f"rows must be a 1-d array of indices in [0, {p})")
    if labels is not None:
        labels = np.ascontiguousarray(labels, dtype=np.float64)
        if labels.shape != (p,):
            raise ValueError(f"labels must have shape ({p},), got {labels.shape}")
    we = np.empty_like(w2)
    scale = np.empty(k)
    _prepare(w2, bool(normalise), bool(binary), we, scale)
    return w, we, scale, x, labels, rows, ACTIVATION_CODES[activation], c


def _column_chunk(ncols, parallel):
    """Columns per task of the gradient product: ~4 tasks a thread, >= 64 columns.

    The chunking never changes the result (each gradient entry is summed over the
    minibatch in pattern order inside one task), so it may follow the thread count.
    """
    if not parallel:
        return max(ncols, 1)
    tasks = 4 * numba.get_num_threads()
    return max(MIN_COLUMN_CHUNK, -(-ncols // tasks))


def forward(
    weights,
    x,
    *,
    fully_connected=False,
    activation=None,
    readout=None,
    normalise=False,
    binary=False,
    rows=None,
    parallel=True,
):
    """Network outputs ``sum_l c_l a(h_l) / sqrt(K)`` of the patterns ``x[rows]``.

    Parameters
    ----------
    weights : (N,) or (K, n) float array
        Perceptron, or committee (tree or fully connected).
    x : (P, N) int8 or float64 array
        Patterns.
    fully_connected : bool
        Committee connectivity (ignored for a perceptron).
    activation : {"linear", "tanh", "relu", "sign"} or None
        Hidden activation; ``None``: linear for a perceptron, tanh for a committee.
    readout : (K,) array or None
        Fixed second layer ``c``; ``None``: :func:`wfm.models.nets.default_readout`.
    normalise, binary : bool
        Fields ``/ |W_l|`` instead of ``/ sqrt(n_in)``; evaluate with ``sign(W)``.
    rows : int array or None
        The minibatch, indices into ``x`` (``None``: all patterns).
    parallel : bool
        Threads over the minibatch (bitwise the same result).

    Returns
    -------
    (B,) float64 array
    """
    _, we, scale, x, _, rows, act, c = _setup(
        weights, x, None, rows, activation, readout, fully_connected, normalise, binary
    )
    out = np.empty(rows.shape[0])
    kernel = _forward_parallel if parallel else _forward_serial
    kernel(we, scale, x, rows, bool(fully_connected), act, c, out)
    return out


def loss_and_grad(
    weights,
    x,
    labels,
    grad_out,
    *,
    loss="ce",
    gamma=1.0,
    kappa=0.0,
    fully_connected=False,
    activation=None,
    readout=None,
    normalise=False,
    binary=False,
    rows=None,
    parallel=True,
):
    """Minibatch-mean loss of ``Delta = sigma out``; its gradient into ``grad_out``.

    Parameters
    ----------
    weights, x, fully_connected, activation, readout, normalise, binary, rows
        As in :func:`forward` (``activation="sign"`` has no gradient: refused).
    labels : (P,) array of ±1
    grad_out : float64 array, C-contiguous, shape of ``weights``
        Overwritten with ``dL/dW`` (straight-through estimate if ``binary``).
    loss : {"ce", "hinge", "mse"}
    gamma : float
        Inverse temperature of ``ce`` (``> 0``; ``inf`` = ``max(0, -Delta)``).
    kappa : float
        Margin of ``hinge``.
    parallel : bool
        Threads (bitwise the same result, for any number of threads).

    Returns
    -------
    float
        The mean loss over the minibatch.
    """
    w, we, scale, x, labels, rows, act, c = _setup(
        weights, x, labels, rows, activation, readout, fully_connected, normalise,
        binary,
    )  # fmt: skip
    if act == _SIGN:
        raise ValueError("activation must be linear, tanh or relu for a gradient")
    if loss not in LOSS_CODES:
        raise ValueError(f"loss must be one of {', '.join(nets.LOSSES)}, got {loss!r}")
    if not gamma > 0.0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if (
        not isinstance(grad_out, np.ndarray)
        or grad_out.shape != w.shape
        or grad_out.dtype != np.float64
        or not grad_out.flags.c_contiguous
        or not grad_out.flags.writeable
    ):
        raise ValueError(
            f"grad_out must be a writeable C-contiguous float64 array of shape "
            f"{w.shape}"
        )
    k = we.shape[0]
    bsz = rows.shape[0]
    if bsz == 0:
        raise ValueError("the minibatch must not be empty")
    kernel = _loss_and_grad_parallel if parallel else _loss_and_grad_serial
    return kernel(
        we, scale, x, labels, rows, bool(fully_connected), act, c, LOSS_CODES[loss],
        float(gamma), float(kappa), bool(normalise),
        _column_chunk(x.shape[1], parallel), np.empty((bsz, k)), np.empty((bsz, k)),
        np.empty(bsz), grad_out.reshape(we.shape),
    )  # fmt: skip


def train_errors(
    weights,
    x,
    labels,
    *,
    kappa=0.0,
    fully_connected=False,
    activation=None,
    readout=None,
    normalise=False,
    binary=False,
    rows=None,
    parallel=True,
):
    """Number of patterns of ``x[rows]`` with ``Delta = sigma out <= kappa``.

    Same forward as :func:`forward` (``sign(W)`` if ``binary``); ``activation="sign"``
    counts the errors of the committee vote.
    """
    _, we, scale, x, labels, rows, act, c = _setup(
        weights, x, labels, rows, activation, readout, fully_connected, normalise,
        binary,
    )  # fmt: skip
    kernel = _errors_parallel if parallel else _errors_serial
    bad = np.empty(rows.shape[0], dtype=np.int64)
    return int(
        kernel(we, scale, x, labels, rows, bool(fully_connected), act, c, float(kappa),
               bad)
    )  # fmt: skip


def rsgd_center(H):
    """The traced-out centre ``H^c = mean_a sign(H^a)``, ``(K, N)``.

    Its signs (``+1`` where ``H^c > 0``) are the centre's binary weights, as
    ``mean_net`` of BinaryCommitteeMachineRSGD.jl.
    """
    return nets.binarise(H).sum(axis=0) / np.shape(H)[0]


def _rsgd_setup(H, x, labels, perm, batch, lr, gamma, y, lam, fully_connected=True):
    if not (
        isinstance(H, np.ndarray)
        and H.ndim == 3
        and H.dtype == np.float64
        and H.flags.c_contiguous
        and H.flags.writeable
    ):
        raise ValueError(
            "H must be a writeable C-contiguous float64 array of shape (y, K, N)"
        )
    nrep, _, n = H.shape
    if y is not None and int(y) != nrep:
        raise ValueError(f"y must equal H.shape[0] = {nrep}, got {y}")
    x = np.asarray(x)
    if x.dtype not in (np.int8, np.float64):
        x = x.astype(np.float64)
    x = np.ascontiguousarray(x)
    n_inputs = n if fully_connected else H.shape[1] * n
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise ValueError(f"x must be (P, {n_inputs}), got {x.shape}")
    p = x.shape[0]
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if labels.shape != (p,) or not np.all(np.abs(labels) == 1):
        raise ValueError(f"labels must be ±1 of shape ({p},)")
    perm = np.asarray(perm, dtype=np.int64)
    if perm.ndim == 1:
        perm = np.broadcast_to(perm, (nrep, perm.shape[0]))
    perm = np.ascontiguousarray(perm)
    if perm.shape != (nrep, p) or not np.all(np.sort(perm, axis=1) == np.arange(p)):
        raise ValueError(f"perm must be a permutation of range({p}), or y of them")
    if int(batch) < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if not gamma >= 0.0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    return x, labels, perm, int(batch), float(lr), float(lam), float(gamma)


def rsgd_binary_epoch(
    H,
    x,
    labels,
    perm,
    batch,
    lr,
    gamma,
    y=None,
    *,
    lam,
    hard=False,
    corrected=False,
    fully_connected=True,
    parallel=True,
):
    """One epoch of binary replicated SGD [P0] on a committee machine; in place.

    ``y`` replicas of a fully connected binary committee (``K`` odd) with continuous
    hidden fields ``H^a`` and weights ``W^a = sign(H^a)`` (``+1`` where ``H^a > 0``).
    Replica ``a`` visits the patterns in the order ``perm[a]``, cut into minibatches
    of ``batch`` (the last one shorter). For each minibatch, with ``W^a`` fixed:

    1. every pattern the committee misclassifies (``sign(sum_l sign(h_l)) != sigma``,
       ``h_l = W^a_l . xi`` and ``sign(0) = -1`` as in the Julia code) asks for the
       ``(1 - sigma sum_l sign(h_l)) / 2`` hidden flips that fix it, on the wrong units
       (``sigma h_l <= 0``) with the smallest ``|h_l|`` (ties: lower index); each of
       them receives ``dH_l += lr sigma xi`` (the perceptron rule of ``compute_gd!``);
    2. ``H^a += dH``, ``W^a = sign(H^a)``, then the elastic pull to the centre
       (``kickboth_traced!``, eq. C7 of [P0]):
       ``H^a += lam (tanh(gamma y H^c) - corr W^a)``, ``W^a = sign(H^a)``, with
       ``H^c = mean_b W^b`` the traced-out centre, ``corr = 1`` (Julia's
       ``:simple``) or ``tanh(gamma y)`` (``corrected``, eq. C9); ``hard`` replaces
       ``tanh`` by ``clamp(., -1, 1)`` (``:hard``); ``gamma = inf`` gives
       ``sign(H^c)`` (``sign(0) = 0``).

    The one deliberate difference from BinaryCommitteeMachineRSGD.jl: there the
    replicas take their minibatches one after another in a random order, each moving
    the centre before the next one reads it; here all replicas read the centre of the
    start of the minibatch round and are updated in parallel (``prange`` over
    replicas), then the centre is recomputed. The result depends on ``perm`` only,
    never on the number of threads. Protocol (growing ``gamma``, ``lr``/``lam``
    factors, stopping) is the learner's.

    Parameters
    ----------
    H : (y, K, N) float64 array, C-contiguous
        Hidden fields of the replicas, updated in place.
    x : (P, N) int8 or float64 array
        Patterns (±1 in [P0]).
    labels : (P,) array of ±1
    perm : (y, P) or (P,) int array
        Each replica's visiting order (one order shared by all if 1-d).
    batch : int
        Minibatch size.
    lr : float
        ``eta``, step of the perceptron rule.
    gamma : float
        Coupling to the centre (``>= 0``, ``inf`` allowed).
    y : int or None
        Number of replicas, checked against ``H.shape[0]`` if given.
    lam : float
        ``lambda`` (``eta'`` of [P0]), step of the elastic pull.
    hard, corrected : bool
        The ``:hard`` and ``:corrected`` formulas of the Julia code.
    fully_connected : bool
        Every unit sees all ``N`` inputs (``x`` is ``(P, N)``); else a tree committee,
        unit ``l`` on the block ``l`` of ``x`` (``(P, K N)``, ``N`` per unit), the
        same rule on the unit's block (an extension of [P0], which treats the fully
        connected machine).
    parallel : bool
        Replicas on several threads (bitwise the same result).

    Returns
    -------
    (y,) int64 array
        Misclassified patterns met by each replica during the epoch.
    """
    x, labels, perm, batch, lr, lam, gamma = _rsgd_setup(
        H, x, labels, perm, batch, lr, gamma, y, lam, fully_connected
    )
    nrep, k, n = H.shape
    mistakes = np.zeros(nrep, dtype=np.int64)
    kernel = _rsgd_parallel if parallel else _rsgd_serial
    kernel(
        H, np.empty_like(H), x, labels, perm, batch, lr, lam, gamma, bool(hard),
        bool(corrected), bool(fully_connected), np.empty_like(H),
        np.empty((nrep, k)), np.empty((nrep, k)), np.empty((k, n)), mistakes,
    )  # fmt: skip
    return mistakes


# ---------------------------------------------------------------------------
# plain-numpy references (same signatures, less ``parallel``)
# ---------------------------------------------------------------------------
def forward_reference(
    weights,
    x,
    *,
    fully_connected=False,
    activation=None,
    readout=None,
    normalise=False,
    binary=False,
    rows=None,
):
    """numpy version of :func:`forward` (:func:`wfm.models.nets.forward`)."""
    return nets.forward(
        weights, x, fully_connected=fully_connected, activation=activation,
        readout=readout, normalise=normalise, binary=binary, rows=rows,
    )  # fmt: skip


def loss_and_grad_reference(
    weights,
    x,
    labels,
    grad_out,
    *,
    loss="ce",
    gamma=1.0,
    kappa=0.0,
    fully_connected=False,
    activation=None,
    readout=None,
    normalise=False,
    binary=False,
    rows=None,
):
    """numpy version of :func:`loss_and_grad` (``nets.loss_and_grad``)."""
    return nets.loss_and_grad(
        weights, x, labels, grad_out, loss=loss, gamma=gamma, kappa=kappa,
        fully_connected=fully_connected, activation=activation, readout=readout,
        normalise=normalise, binary=binary, rows=rows,
    )  # fmt: skip


def train_errors_reference(
    weights,
    x,
    labels,
    *,
    kappa=0.0,
    fully_connected=False,
    activation=None,
    readout=None,
    normalise=False,
    binary=False,
    rows=None,
):
    """numpy version of :func:`train_errors` (:func:`wfm.models.nets.train_errors`)."""
    return nets.train_errors(
        weights, x, labels, kappa=kappa, fully_connected=fully_connected,
        activation=activation, readout=readout, normalise=normalise, binary=binary,
        rows=rows,
    )  # fmt: skip


def rsgd_binary_epoch_reference(
    H, x, labels, perm, batch, lr, gamma, y=None, *, lam, hard=False, corrected=False,
    fully_connected=True,
):  # fmt: skip
    """numpy version of :func:`rsgd_binary_epoch`: same schedule, same float operations.

    Vectorised over inputs; one pattern at a time for the choice of the hidden units to
    fix (a stable argsort of ``-sigma h_l`` over the wrong units).
    """
    x, labels, perm, batch, lr, lam, gamma = _rsgd_setup(
        H, x, labels, perm, batch, lr, gamma, y, lam, fully_connected
    )
    nrep, k, n = H.shape
    p = x.shape[0]
    xf = x.astype(np.float64)
    # inputs seen by each unit: (P, K, N), all of x or its blocks
    xu = np.broadcast_to(xf[:, None, :], (p, k, n)) if fully_connected else (
        xf.reshape(p, k, n)
    )  # fmt: skip
    gy = gamma * nrep
    corr = math.tanh(gy) if (corrected and not np.isinf(gamma)) else 1.0
    W = nets.binarise(H)
    mistakes = np.zeros(nrep, dtype=np.int64)
    for start in range(0, p, batch):
        hc = W.sum(axis=0) / nrep
        if np.isinf(gamma):
            target = np.sign(hc)
        elif hard:
            target = np.clip(gy * hc, -1.0, 1.0)
        else:  # libm's tanh, as the kernel (numpy's own tanh may differ by an ulp)
            target = np.vectorize(math.tanh, otypes=[np.float64])(gy * hc)
        for a in range(nrep):
            dH = np.zeros((k, n))
            for mu in perm[a, start : start + batch]:
                sigma = labels[mu]
                h = np.einsum("kn,kn->k", W[a], xu[mu])
                hout = int(np.where(h > 0.0, 1, -1).sum())
                if (1 if hout > 0 else -1) == sigma:
                    continue
                mistakes[a] += 1
                wrong = np.flatnonzero(sigma * h <= 0.0)
                order = wrong[np.argsort(-sigma * h[wrong], kind="stable")]
                for l in order[: (1 - sigma * hout) // 2]:
                    dH[l] += (lr * sigma) * xu[mu, l]
            Ha = H[a] + dH
            Ha += lam * (target - corr * nets.binarise(Ha))
            H[a] = Ha
            W[a] = nets.binarise(Ha)
    return mistakes


# ---------------------------------------------------------------------------
# benchmark
# ---------------------------------------------------------------------------
def bench_sgd_epoch(
    n=1000,
    k=5,
    batch=100,
    p=2000,
    *,
    fully_connected=True,
    activation="tanh",
    loss="ce",
    lr=0.05,
    epochs=3,
    reference_epochs=1,
    seed=0,
):
    """Examples/s of one SGD epoch (``loss_and_grad`` + update), numba vs numpy.

    A fully connected (or tree, ``n`` inputs per unit) committee of ``k`` units on
    ``p`` random ±1 patterns; an epoch visits a fresh permutation in minibatches of
    ``batch``, calls ``loss_and_grad`` and takes the step ``W -= lr grad``.
    Compilation is excluded (one warm-up minibatch per implementation).

    Returns
    -------
    dict
        ``{"numba_parallel": ..., "numba_serial": ..., "numpy": ...}`` in examples/s,
        plus ``"speedup"`` (parallel numba over numpy) and the instance sizes.
    """
    rng = np.random.default_rng(seed)
    n_inputs = n if fully_connected else k * n
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n_inputs))
    labels = rng.choice(np.array([-1.0, 1.0]), size=p)
    w0 = rng.normal(size=(k, n))
    opts = dict(fully_connected=fully_connected, activation=activation, loss=loss)

    def run_epochs(step, count, **extra):
        w = w0.copy()
        g = np.empty_like(w)
        step(w, x, labels, g, rows=np.arange(batch), **opts, **extra)  # warm-up
        t0 = time.perf_counter()
        for _ in range(count):
            order = rng.permutation(p)
            for s in range(0, p, batch):
                step(w, x, labels, g, rows=order[s : s + batch], **opts, **extra)
                w -= lr * g
        return count * p / (time.perf_counter() - t0)

    result = {
        "numba_parallel": run_epochs(loss_and_grad, epochs, parallel=True),
        "numba_serial": run_epochs(loss_and_grad, epochs, parallel=False),
        "numpy": run_epochs(loss_and_grad_reference, reference_epochs),
    }
    result["speedup"] = result["numba_parallel"] / result["numpy"]
    return result | {
        "n": n,
        "k": k,
        "batch": batch,
        "p": p,
        "fully_connected": fully_connected,
    }
