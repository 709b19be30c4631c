"""Deep linear networks / matrix factorisation: an analytic test case of Hessians.

The loss of ``L`` linear layers fitted to a target ``A`` with whitened inputs (square
loss) is

    loss(W_1, ..., W_L) = || W_L ... W_1 - A ||_F^2 / 2,

``W_k`` of shape ``(d_k, d_{k-1})``. Its Hessian at a minimiser (``W_L ... W_1 = A``,
residual ``R = 0``) is the Gauss-Newton matrix ``J^T J`` of the linear map
``J(V) = sum_k P_k V_k Q_k``, with ``P_k = W_L ... W_{k+1}`` and ``Q_k = W_{k-1} ...
W_1`` (empty products are identities). Its non-zero eigenvalues are those of
``J J^T(M) = sum_k P_k P_k^T M Q_k^T Q_k`` acting on ``(d_L, d_0)`` matrices, whence
the closed forms used as ground truth for the numerical estimators:

* **trace** at any minimiser, any depth: ``tr H = sum_k ||P_k||_F^2 ||Q_k||_F^2``
  (:func:`trace_at_minimum`);
* **depth 2**, any minimiser: ``J J^T(M) = W_2 W_2^T M + M W_1^T W_1``, a Sylvester
  operator whose eigenvalues are ``a_i + b_j`` (``a`` the eigenvalues of
  ``W_2 W_2^T``, ``b`` those of ``W_1^T W_1``); the rest of the ``h (d_0 + d_2)``
  eigenvalues are zero. The sharpness is ``||W_2||_2^2 + ||W_1||_2^2`` (squared
  spectral norms), as in Kamber & Parhi, *Sharpness of minima in deep matrix
  factorization: exact expressions*, arXiv:2509.25783 (2025), who answer the question
  of Mulayoff & Michaeli, *Unique properties of flat minima in deep networks*, ICML
  2020 (:func:`spectrum_at_minimum`);
* **aligned factors**, any depth: ``W_k = U_k diag(s_k) U_{k-1}^T`` (square ``d x d``,
  orthogonal ``U_k``): all ``P_k P_k^T`` and ``Q_k^T Q_k`` are diagonal in the bases
  ``U_L`` and ``U_0``, and the ``d^2`` non-zero eigenvalues are
  ``lambda_ij = sum_k prod_{l>k} s_{l,i}^2 prod_{l<k} s_{l,j}^2`` (the other
  ``(L - 1) d^2`` are zero) (:func:`aligned_spectrum`).

Balancedness. Rescaling ``W_k -> c_k W_k`` with ``prod c_k = 1`` keeps the product,
so minimisers form a continuum; gradient flow conserves ``W_{k+1}^T W_{k+1} -
W_k W_k^T`` (the balancedness). With aligned factors ``s_k = c_k sigma^{1/L}``
(``sigma`` the singular values of ``A``), the sharpness is smallest on the balanced
minimiser (``c_k = 1``): ``L sigma_max^{2 (L-1)/L}`` (depth 2: ``2 sigma_max``), and
grows as ``sigma_max (c^2 + c^{-2})`` for depth 2 with ``c_1 = c = 1 / c_2``
(:func:`balanced_sharpness`). SAM's implicit bias towards balanced factors (Li, Zhang
and He, *Implicit regularization of sharpness-aware minimization for scale-invariant
problems*, NeurIPS 2024; Andriushchenko and Flammarion, ICML 2022, on diagonal linear
nets) is the flatness bias in this model.

Plain numpy, no kernels: the model is small and exists to test the estimators of
:mod:`wfm.measures.hessian`. Parameters are flattened layer by layer in C order.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "aligned_factors",
    "aligned_spectrum",
    "balanced_sharpness",
    "flatten",
    "gradient",
    "hvp",
    "loss",
    "spectrum_at_minimum",
    "trace_at_minimum",
    "unflatten",
]


def _chain(mats, dim):
    out = np.eye(dim)
    for m in mats:
        out = m @ out
    return out


def _products(factors):
    """``P_k`` and ``Q_k`` of every layer (layer 0 = ``W_1``)."""
    n = len(factors)
    d0, dl = factors[0].shape[1], factors[-1].shape[0]
    p = [_chain(factors[k + 1 :], factors[k].shape[0]) for k in range(n)]
    q = [_chain(factors[:k], d0) for k in range(n)]
    assert p[-1].shape == (dl, dl)
    return p, q


def flatten(factors) -> np.ndarray:
    """All factors in one vector (layer by layer, C order)."""
    return np.concatenate([np.ravel(f) for f in factors])


def unflatten(vector, shapes) -> list:
    """Inverse of :func:`flatten` for factors of ``shapes``."""
    out, start = [], 0
    for s in shapes:
        size = int(np.prod(s))
        out.append(np.asarray(vector[start : start + size]).reshape(s))
        start += size
    return out


def loss(factors, target) -> float:
    """``|| W_L ... W_1 - A ||_F^2 / 2``."""
    r = _chain(factors, factors[0].shape[1]) - target
    return 0.5 * float(np.sum(r * r))


def gradient(factors, target) -> list:
    """``dloss/dW_k = P_k^T R Q_k^T``."""
    p, q = _products(factors)
    r = _chain(factors, factors[0].shape[1]) - target
    return [p[k].T @ r @ q[k].T for k in range(len(factors))]


def hvp(factors, target, v) -> list:
    """Hessian-vector product (analytic, residual part included).

    ``d(P_k^T R Q_k^T)[V] = dP_k^T R Q_k^T + P_k^T dR Q_k^T + P_k^T R dQ_k^T`` with
    ``dR = sum_j P_j V_j Q_j`` and ``dP_k``, ``dQ_k`` the products with one factor
    replaced by its direction.
    """
    n = len(factors)
    d0 = factors[0].shape[1]
    p, q = _products(factors)
    r = _chain(factors, d0) - target
    dr = sum(p[j] @ v[j] @ q[j] for j in range(n))

    def swapped(lo, hi, j, dim):
        """Product of factors ``lo..hi-1`` with factor ``j`` replaced by ``v[j]``."""
        mats = [v[i] if i == j else factors[i] for i in range(lo, hi)]
        return _chain(mats, dim)

    out = []
    for k in range(n):
        dk = factors[k].shape[0]
        dp = sum(
            (swapped(k + 1, n, j, dk) for j in range(k + 1, n)), np.zeros_like(p[k])
        )
        dq = sum((swapped(0, k, j, d0) for j in range(k)), np.zeros_like(q[k]))
        out.append(dp.T @ r @ q[k].T + p[k].T @ dr @ q[k].T + p[k].T @ r @ dq.T)
    return out


def trace_at_minimum(factors) -> float:
    """``tr H = sum_k ||P_k||_F^2 ||Q_k||_F^2`` at a minimiser (zero residual)."""
    p, q = _products(factors)
    return float(sum(np.sum(a * a) * np.sum(b * b) for a, b in zip(p, q, strict=True)))


def spectrum_at_minimum(w1, w2) -> np.ndarray:
    """All Hessian eigenvalues of a depth-2 minimiser ``W_2 W_1 = A``, ascending.

    ``{a_i + b_j}`` (``a = eig(W_2 W_2^T)``, ``b = eig(W_1^T W_1)``) without its zeros,
    padded with zeros to the ``h (d_0 + d_2)`` parameters.
    """
    a = np.linalg.eigvalsh(w2 @ w2.T)
    b = np.linalg.eigvalsh(w1.T @ w1)
    a, b = np.clip(a, 0.0, None), np.clip(b, 0.0, None)
    sums = (a[:, None] + b[None, :]).ravel()
    scale = max(float(sums.max()), 1e-300)
    nonzero = sums[sums > 1e-13 * scale]
    n_params = w1.size + w2.size
    return np.sort(np.concatenate([nonzero, np.zeros(n_params - nonzero.size)]))


def aligned_factors(singular_values, scales, rng) -> list:
    """Square factors ``W_k = U_k diag(c_k sigma^{1/L}) U_{k-1}^T`` with random
    orthogonal ``U_k``: a minimiser of ``A = U_L diag(sigma) U_0^T`` when
    ``prod_k c_k = 1``.

    Parameters
    ----------
    singular_values : (d,) array
        ``sigma``, the singular values of the target (``> 0``).
    scales : (L,) array
        ``c_k`` per layer (all ones: the balanced minimiser).
    rng : numpy.random.Generator

    Returns
    -------
    list of (d, d) arrays
        ``[W_1, ..., W_L]``; the target is ``W_L ... W_1``.
    """
    sigma = np.asarray(singular_values, dtype=float)
    scales = np.asarray(scales, dtype=float)
    depth, d = scales.size, sigma.size
    us = [np.linalg.qr(rng.normal(size=(d, d)))[0] for _ in range(depth + 1)]
    root = sigma ** (1.0 / depth)
    return [us[k + 1] @ np.diag(scales[k] * root) @ us[k].T for k in range(depth)]


def aligned_spectrum(layer_values) -> np.ndarray:
    """Hessian eigenvalues at aligned factors with diagonals ``layer_values`` (list of
    ``L`` arrays of length ``d``, layer 1 first), ascending, ``L d^2`` of them."""
    s = [np.asarray(x, dtype=float) for x in layer_values]
    depth, d = len(s), s[0].size
    lam = np.zeros((d, d))
    for k in range(depth):
        above = np.prod([s[l] ** 2 for l in range(k + 1, depth)], axis=0)
        below = np.prod([s[l] ** 2 for l in range(k)], axis=0)
        lam += np.multiply.outer(np.broadcast_to(above, d), np.broadcast_to(below, d))
    return np.sort(np.concatenate([lam.ravel(), np.zeros((depth - 1) * d * d)]))


def balanced_sharpness(sigma_max, depth=2, c=1.0) -> float:
    """Sharpness of aligned minimisers: ``L sigma_max^{2(L-1)/L}`` when balanced;
    depth 2 with ``c_1 = c = 1/c_2``: ``sigma_max (c^2 + c^{-2})``."""
    if depth == 2:
        return float(sigma_max * (c * c + 1.0 / (c * c)))
    if c != 1.0:
        raise ValueError("c != 1 is covered for depth 2 only")
    return float(depth * sigma_max ** (2.0 * (depth - 1) / depth))
