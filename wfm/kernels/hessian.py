"""Hessian-vector products of the gradient learners' losses (analytic 2nd derivatives).

Networks, losses and conventions are those of :mod:`wfm.models.nets` (and of
:mod:`wfm.kernels.sgd`) with plain fields: weights ``(N,)`` (perceptron) or ``(K, n)``
(committee, tree or fully connected), ``h_l = W_l . xi_l / sqrt(n)``,
``out = sum_l c_l a(h_l) / sqrt(K)``, ``Delta = sigma out`` and the mean loss
``L(W) = (1/P) sum_mu f(Delta_mu)``. Binary nets are differentiated as their continuous
relaxation: the weights passed are the point (``±1`` for a binary solution), no
``sign``. Normalised fields (``W . xi / |W|``) are not differentiated here: on the
sphere ``|W_l|^2 = n`` their value is the plain field's, and the Hessian computed here
is the one in the ambient space of the plain-field loss.

Second derivatives. With ``g_l = sigma c_l a'(h_l) / sqrt(K)`` (so that
``dDelta/dW_l = g_l xi_l / sqrt(n)``) the Hessian of one pattern's loss is

    d2 f / dW_l dW_m = f''(Delta) g_l g_m xi_l xi_m^T / n                (Gauss-Newton)
                     + delta_lm f'(Delta) sigma c_l a''(h_l) xi_l xi_l^T / (n sqrt(K))
                                                                          (residual)

so a product with ``v`` costs two passes over the patterns, like a gradient: per
pattern the directional fields ``r_l = v_l . xi_l / sqrt(n)`` and the coefficient
``t_l = (g_l f'' sum_m g_m r_m + res_l r_l) / P`` (``res_l = f' sigma c_l a''(h_l) /
sqrt(K)``), then ``(H v)_l = sum_mu t_l xi_l / sqrt(n)``. The per-pattern quantities
``g``, ``f''`` and ``res`` depend on the point only and are computed once
(:func:`hvp_point`). The two phases are scheduled as in
:func:`wfm.kernels.sgd.loss_and_grad` (patterns in parallel, then chunks of input
columns, every entry summed in pattern order: bitwise independent of the thread count).

Second derivatives of the pieces: ``f_gamma'' = 2 gamma p (1 - p)``,
``p = expit(-2 gamma Delta)`` (``gamma = inf``: 0 a.e.); hinge ``0`` (a.e., the kink
has measure zero); mse ``1``. ``tanh'' = -2 tanh (1 - tanh^2)``; relu and linear ``0``
(a.e.). The delta functions at the kinks of relu, hinge and ``ce`` at ``gamma = inf``
are left out: the Hessian is the almost-everywhere one.

Every kernel has a plain-numpy reference (``*_reference``): :func:`hvp_reference` and
:func:`exact_hessian` (the dense Hessian ``J^T diag(f'') J / P + residual blocks``, for
small nets and tests).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numba
import numpy as np

from wfm._numba import njit, serial_and_parallel
from wfm.kernels.sgd import ACTIVATION_CODES, LOSS_CODES, MIN_COLUMN_CHUNK, _dot
from wfm.models import nets

__all__ = [
    "HVPPoint",
    "bench_hvp",
    "exact_hessian",
    "hvp",
    "hvp_point",
    "hvp_point_reference",
    "hvp_reference",
]

_LINEAR, _TANH, _RELU = (ACTIVATION_CODES[a] for a in ("linear", "tanh", "relu"))
_CE, _HINGE, _MSE = (LOSS_CODES[name] for name in nets.LOSSES)
SMOOTH_ACTIVATIONS = ("linear", "tanh", "relu")


# ---------------------------------------------------------------------------
# scalar pieces
# ---------------------------------------------------------------------------
@njit
def _activation2(h, act):
    """``(a'(h), a''(h))`` (relu: ``(1[h > 0], 0)``)."""
    if act == _TANH:
        t = math.tanh(h)
        d = 1.0 - t * t
        return d, -2.0 * t * d
    if act == _RELU:
        return (1.0 if h > 0.0 else 0.0), 0.0
    return 1.0, 0.0


@njit
def _activation0(h, act):
    if act == _TANH:
        return math.tanh(h)
    if act == _RELU:
        return h if h > 0.0 else 0.0
    return h


@njit
def _loss2(d, loss, gamma, kappa):
    """``(f'(Delta), f''(Delta))``, no overflow at any ``gamma Delta``."""
    if loss == _CE:
        if math.isinf(gamma):
            return (-1.0 if d < 0.0 else 0.0), 0.0
        z = -2.0 * gamma * d
        e = math.exp(-abs(z))
        p = 1.0 / (1.0 + e) if z > 0.0 else e / (1.0 + e)  # expit(z)
        return -p, 2.0 * gamma * p * (1.0 - p)
    if loss == _HINGE:
        return (-1.0 if d < kappa else 0.0), 0.0
    return d - 1.0, 1.0


# ---------------------------------------------------------------------------
# kernels, each loop body written once and compiled serial and parallel
# ---------------------------------------------------------------------------
def _make_point(jit, loop):
    @jit
    def point_kernel(w, x, labels, fully_connected, act, c, loss, gamma, kappa, g,
                     curv, res):  # fmt: skip
        k, n = w.shape
        p = x.shape[0]
        scale = 1.0 / math.sqrt(n)
        inv_sqrt_k = 1.0 / math.sqrt(k)
        for mu in loop(p):
            sigma = labels[mu]
            s = 0.0
            for l in range(k):
                offset = 0 if fully_connected else l * n
                h = _dot(w[l], x[mu, offset : offset + n]) * scale
                s += c[l] * _activation0(h, act)
                d1, d2 = _activation2(h, act)
                g[mu, l] = sigma * c[l] * d1 * inv_sqrt_k
                res[mu, l] = sigma * c[l] * d2 * inv_sqrt_k
            f1, f2 = _loss2(sigma * s * inv_sqrt_k, loss, gamma, kappa)
            curv[mu] = f2
            for l in range(k):
                res[mu, l] *= f1

    return point_kernel


def _make_hvp(jit, loop):
    @jit
    def hvp_kernel(x, v, fully_connected, g, curv, res, chunk, t, out):
        k, n = v.shape
        p = x.shape[0]
        scale = 1.0 / math.sqrt(n)
        inv_p = 1.0 / p
        # phase 1: one pattern per task, directional fields and coefficients
        for mu in loop(p):
            gr = 0.0
            for l in range(k):
                offset = 0 if fully_connected else l * n
                r = _dot(v[l], x[mu, offset : offset + n]) * scale
                t[mu, l] = r
                gr += g[mu, l] * r
            u = curv[mu] * gr
            for l in range(k):
                t[mu, l] = (g[mu, l] * u + res[mu, l] * t[mu, l]) * inv_p * scale
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
                o = out[l, lo - off : hi - off]
                o[:] = 0.0
                for mu in range(p):
                    tl = t[mu, l]
                    if tl == 0.0:  # inactive ReLU, zero curvature: nothing to add
                        continue
                    xr = x[mu, lo:hi]
                    for i in range(o.shape[0]):
                        o[i] += tl * xr[i]

    return hvp_kernel


_point_serial, _point_parallel = serial_and_parallel(_make_point)
_hvp_serial, _hvp_parallel = serial_and_parallel(_make_hvp)


# ---------------------------------------------------------------------------
# public wrappers: validate once, allocate, call the kernel
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class HVPPoint:
    """What a Hessian-vector product needs of a point ``W`` (computed once).

    Attributes
    ----------
    x : (P, N) int8 or float64 array
        The patterns (read in place).
    shape : tuple
        Shape of the weights (and of ``v`` in :func:`hvp`).
    fully_connected : bool
    g : (P, K) float64 array
        ``sigma c_l a'(h_l) / sqrt(K)`` per pattern and unit.
    curvature : (P,) float64 array
        ``f''(Delta)`` per pattern.
    residual : (P, K) float64 array
        ``f'(Delta) sigma c_l a''(h_l) / sqrt(K)``.
    parallel : bool
        Threads in :func:`hvp` (bitwise the same result).
    """

    x: np.ndarray
    shape: tuple
    fully_connected: bool
    g: np.ndarray
    curvature: np.ndarray
    residual: np.ndarray
    parallel: bool = True

    @property
    def n_params(self) -> int:
        return int(np.prod(self.shape))

    @property
    def k(self) -> int:
        return self.g.shape[1]


def _setup(weights, x, labels, loss, gamma, activation, readout, fully_connected):
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.ndim not in (1, 2):
        raise ValueError(f"weights must be (N,) or (K, n), got shape {w.shape}")
    w2 = w.reshape(1, -1) if w.ndim == 1 else w
    k, n = w2.shape
    x = np.asarray(x)
    if x.dtype not in (np.int8, np.float64):
        x = x.astype(np.float64)
    x = np.ascontiguousarray(x)
    n_inputs = n if (fully_connected or w.ndim == 1) else k * n
    if x.ndim != 2 or x.shape[1] != n_inputs or x.shape[0] == 0:
        raise ValueError(
            f"x must be (P >= 1, {n_inputs}) for weights of shape {w.shape}, got "
            f"{x.shape}"
        )
    if activation is None:
        activation = "linear" if w.ndim == 1 else "tanh"
    if activation not in SMOOTH_ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {', '.join(SMOOTH_ACTIVATIONS)} for a "
            f"Hessian, got {activation!r}"
        )
    if loss not in LOSS_CODES:
        raise ValueError(f"loss must be one of {', '.join(nets.LOSSES)}, got {loss!r}")
    if not gamma > 0.0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    c = nets.default_readout(k, activation) if readout is None else readout
    c = np.ascontiguousarray(c, dtype=np.float64)
    if c.shape != (k,):
        raise ValueError(f"readout must have shape ({k},), got {c.shape}")
    labels = np.ascontiguousarray(labels, dtype=np.float64)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {labels.shape}")
    return w, w2, x, labels, activation, c


def _column_chunk(ncols, parallel):
    if not parallel:
        return max(ncols, 1)
    return max(MIN_COLUMN_CHUNK, -(-ncols // (4 * numba.get_num_threads())))


def hvp_point(
    weights,
    x,
    labels,
    *,
    loss="ce",
    gamma=1.0,
    kappa=0.0,
    fully_connected=False,
    activation=None,
    readout=None,
    parallel=True,
):
    """The per-pattern second-derivative coefficients of the loss at ``weights``.

    Parameters
    ----------
    weights : (N,) or (K, n) float array
        The point (perceptron, or committee: tree or fully connected).
    x : (P, N) int8 or float64 array
        Patterns (all of them: the loss is the mean over the training set).
    labels : (P,) array of ±1
    loss : {"ce", "hinge", "mse"}
    gamma : float
        Inverse temperature of ``ce`` (``> 0``; ``inf`` allowed).
    kappa : float
        Margin of ``hinge``.
    fully_connected : bool
    activation : {"linear", "tanh", "relu"} or None
        ``None``: linear for a perceptron, tanh for a committee.
    readout : (K,) array or None
        ``None``: :func:`wfm.models.nets.default_readout`.
    parallel : bool

    Returns
    -------
    HVPPoint
    """
    w, w2, x, labels, activation, c = _setup(
        weights, x, labels, loss, gamma, activation, readout, fully_connected
    )
    k = w2.shape[0]
    p = x.shape[0]
    g, curv, res = np.empty((p, k)), np.empty(p), np.empty((p, k))
    kernel = _point_parallel if parallel else _point_serial
    kernel(
        w2, x, labels, bool(fully_connected), ACTIVATION_CODES[activation], c,
        LOSS_CODES[loss], float(gamma), float(kappa), g, curv, res,
    )  # fmt: skip
    return HVPPoint(x, w.shape, bool(fully_connected), g, curv, res, bool(parallel))


def hvp(point: HVPPoint, v, out=None):
    """``H v`` at ``point`` (:func:`hvp_point`), in the shape of the weights.

    Parameters
    ----------
    point : HVPPoint
    v : array of ``point.shape`` (or flat, ``point.n_params``)
    out : float64 C-contiguous array, optional
        Overwritten with the product (shape of ``v``).

    Returns
    -------
    ndarray
    """
    v = np.asarray(v, dtype=np.float64)
    if v.size != point.n_params:
        raise ValueError(f"v must have {point.n_params} entries, got {v.size}")
    if out is None:
        out = np.empty(v.shape)
    k = point.k
    v2 = np.ascontiguousarray(v.reshape(k, -1))
    kernel = _hvp_parallel if point.parallel else _hvp_serial
    n = v2.shape[1]
    ncols = n if point.fully_connected else k * n
    kernel(
        point.x, v2, point.fully_connected, point.g, point.curvature, point.residual,
        _column_chunk(ncols, point.parallel), np.empty((point.x.shape[0], k)),
        out.reshape(k, n),
    )  # fmt: skip
    return out


# ---------------------------------------------------------------------------
# plain-numpy references
# ---------------------------------------------------------------------------
def _blocks(x, k, n, fully_connected):
    """Inputs of each unit, ``(K, P, n)`` (a view-free copy for the tree)."""
    if fully_connected or k == 1:
        return np.broadcast_to(x, (k, *x.shape))
    return np.stack([x[:, l * n : (l + 1) * n] for l in range(k)])


def _loss2_reference(delta, loss, gamma, kappa):
    if loss == "ce":
        if np.isinf(gamma):
            return np.where(delta < 0.0, -1.0, 0.0), np.zeros_like(delta)
        from scipy.special import expit

        p = expit(-2.0 * gamma * delta)
        return -p, 2.0 * gamma * p * (1.0 - p)
    if loss == "hinge":
        return np.where(delta < kappa, -1.0, 0.0), np.zeros_like(delta)
    return delta - 1.0, np.ones_like(delta)


def _activation2_reference(h, activation):
    if activation == "tanh":
        t = np.tanh(h)
        return t, 1.0 - t * t, -2.0 * t * (1.0 - t * t)
    if activation == "relu":
        return np.maximum(h, 0.0), (h > 0.0).astype(float), np.zeros_like(h)
    return h, np.ones_like(h), np.zeros_like(h)


def hvp_point_reference(
    weights,
    x,
    labels,
    *,
    loss="ce",
    gamma=1.0,
    kappa=0.0,
    fully_connected=False,
    activation=None,
    readout=None,
):
    """numpy version of :func:`hvp_point` (same fields, float64 patterns)."""
    w, w2, x, labels, activation, c = _setup(
        weights, x, labels, loss, gamma, activation, readout, fully_connected
    )
    k, n = w2.shape
    xb = _blocks(x.astype(np.float64), k, n, fully_connected)
    h = np.einsum("kpn,kn->pk", xb, w2) / np.sqrt(n)
    a, d1, d2 = _activation2_reference(h, activation)
    delta = labels * (a @ c) / np.sqrt(k)
    f1, f2 = _loss2_reference(delta, loss, gamma, kappa)
    g = labels[:, None] * c[None, :] * d1 / np.sqrt(k)
    res = (f1 * labels)[:, None] * c[None, :] * d2 / np.sqrt(k)
    return HVPPoint(x, w.shape, bool(fully_connected), g, f2, res, False)


def hvp_reference(point: HVPPoint, v):
    """numpy version of :func:`hvp`."""
    k = point.k
    v2 = np.asarray(v, dtype=np.float64).reshape(k, -1)
    n = v2.shape[1]
    xb = _blocks(np.asarray(point.x, dtype=np.float64), k, n, point.fully_connected)
    r = np.einsum("kpn,kn->pk", xb, v2) / np.sqrt(n)
    u = point.curvature * np.sum(point.g * r, axis=1)
    t = (point.g * u[:, None] + point.residual * r) / point.x.shape[0]
    out = np.einsum("pk,kpn->kn", t, xb) / np.sqrt(n)
    return out.reshape(np.shape(v))


def exact_hessian(point: HVPPoint):
    """The dense Hessian at ``point``, ``(n_params, n_params)`` (weights flattened in
    C order): ``J^T diag(f'') J / P`` plus the block-diagonal residual part."""
    k = point.k
    n = point.n_params // k
    p = point.x.shape[0]
    xb = _blocks(np.asarray(point.x, dtype=np.float64), k, n, point.fully_connected)
    jac = (point.g.T[:, :, None] * xb).transpose(1, 0, 2).reshape(p, k * n)
    jac /= np.sqrt(n)
    hess = jac.T @ (point.curvature[:, None] * jac) / p
    for l in range(k):
        blk = xb[l].T @ (point.residual[:, l, None] * xb[l]) / (n * p)
        hess[l * n : (l + 1) * n, l * n : (l + 1) * n] += blk
    return hess


# ---------------------------------------------------------------------------
# benchmark
# ---------------------------------------------------------------------------
def bench_hvp(k=5, n=2000, p=2000, *, fully_connected=True, repeats=20,
              reference_repeats=3, seed=0):  # fmt: skip
    """Hessian-vector products per second, numba (parallel, serial) vs numpy.

    A committee of ``k`` tanh units (``n`` inputs each; fully connected by default) on
    ``p`` random ±1 int8 patterns, ce loss at ``gamma = 1``; compilation and the
    per-point setup are excluded.

    Returns
    -------
    dict
        ``hvp_per_s`` per implementation, ``speedup`` (parallel over numpy), sizes.
    """
    rng = np.random.default_rng(seed)
    n_inputs = n if fully_connected else k * n
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n_inputs))
    labels = rng.choice(np.array([-1.0, 1.0]), size=p)
    w = rng.normal(size=(k, n))
    v = rng.normal(size=(k, n))
    opts = {"fully_connected": fully_connected, "activation": "tanh"}

    def rate(point, fn, count):
        fn(point, v)  # warm-up (compilation)
        t0 = time.perf_counter()
        for _ in range(count):
            fn(point, v)
        return count / (time.perf_counter() - t0)

    out = {
        "numba_parallel": rate(hvp_point(w, x, labels, **opts), hvp, repeats),
        "numba_serial": rate(
            hvp_point(w, x, labels, parallel=False, **opts), hvp, repeats
        ),
        "numpy": rate(
            hvp_point_reference(w, x, labels, **opts), hvp_reference, reference_repeats
        ),
    }
    return {
        "hvp_per_s": out,
        "speedup": out["numba_parallel"] / out["numpy"],
        "k": k,
        "n": n,
        "p": p,
        "n_params": k * n,
        "fully_connected": fully_connected,
        "threads": numba.get_num_threads(),
    }
