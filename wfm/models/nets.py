"""Gradient-trained nets: plain-numpy forward, losses and gradients (science.md §4).

The reference implementation of :mod:`wfm.kernels.sgd` (same signatures, obviously
correct, vectorised, slow), also usable on its own wherever a small net's loss or
gradient is needed in numpy (flatness measures, Hessians by finite differences).

Networks
--------
perceptron
    weights ``(N,)``; one unit on all ``N`` inputs, linear output ``h``.
committee (one hidden layer, ``K`` units, fixed second layer)
    weights ``(K, n)``. Tree (``fully_connected=False``): unit ``l`` sees the disjoint
    block ``xi[:, l n:(l+1) n]`` of the ``N = K n`` inputs. Fully connected: every unit
    sees all ``N = n`` inputs.

Hidden fields ``h_l = W_l . xi_l / sqrt(n_in)`` (``n_in = n``), output
``out = sum_l c_l a(h_l) / sqrt(K)`` with activation ``a`` and fixed read-out ``c``
(``K = 1``, ``c = 1``, ``a = id`` for the perceptron, so ``out = h``), stability of a
pattern ``Delta = sigma out``.

Normalisation (``normalise=True``): ``h_l = W_l . xi_l / |W_l|``. It equals the plain
field on the sphere ``|W_l|^2 = n_in`` (the spherical perceptron's ``Delta = sigma W .
xi / sqrt(N)``), is invariant under rescaling of each ``W_l``, and its gradient is the
plain one projected on the tangent space of that sphere. With it the loss's ``gamma``
is the only inverse temperature, which is how [P1] (Baldassi, Pittorino, Zecchina, PNAS
2020) reads the cross-entropy: a large norm of unnormalised weights acts like a large
``gamma``. Without it (default) the norm is free and plays that role itself.

Binary weights (``binary=True``): ``W`` are continuous *latent* weights and the net is
evaluated with ``sign(W)`` (``+1`` where ``W > 0``, else ``-1``, the convention of
BinaryCommitteeMachineRSGD.jl), fields ``sign(W_l) . xi_l / sqrt(n_in)``. The gradient
is the straight-through estimate: the gradient of the loss with respect to the binary
weights, evaluated at ``sign(W)``, applied to the latent ``W`` (BinaryConnect,
Courbariaux et al. 2015; the "continuous latent weights" of [P1] for binary nets). The
true derivative with respect to ``W`` is zero almost everywhere. Clipping the latent
weights, if wanted, is the learner's business. ``normalise`` is meaningless for binary
weights (``|sign W_l|^2 = n_in``) and is refused with them.

Activations (``ACTIVATIONS``): ``linear``, ``tanh``, ``relu`` and ``sign`` (forward
and error counts only: the committee vote ``sigma sum_l sign(h_l) > 0`` of
:mod:`wfm.models.committee`, with ``sign(0) = 0``). Default read-out: ``c_l = 1``,
except for ``relu``, whose outputs are never negative, where ``c_l = (-1)^l``
(alternating signs; an all-positive read-out could never give ``sigma = -1``).

Losses (``LOSSES``), on ``Delta``, averaged over the minibatch:

* ``ce``: ``f_gamma(Delta) = ln(1 + exp(-2 gamma Delta)) / (2 gamma)`` [P1], the
  cross-entropy of a ±1 output at inverse temperature ``gamma``; ``gamma = inf`` is
  its limit ``max(0, -Delta)``;
* ``hinge``: ``max(0, kappa - Delta)``, subgradient ``-1`` for ``Delta < kappa``, ``0``
  otherwise (at the kink too);
* ``mse``: ``(1 - Delta)^2 / 2`` ( ``= (sigma - out)^2 / 2`` for ``sigma = ±1``).

Training errors: patterns with ``Delta <= kappa`` (the same forward as the loss, with
``sign(W)`` for binary weights; pass ``activation="sign"`` for the committee vote).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "binarise",
    "default_readout",
    "forward",
    "hidden_fields",
    "loss_and_grad",
    "loss_derivatives",
    "loss_values",
    "train_errors",
]

ACTIVATIONS = ("linear", "tanh", "relu", "sign")
LOSSES = ("ce", "hinge", "mse")
_SMOOTH = ("linear", "tanh", "relu")  # activations with a (sub)gradient


def binarise(w):
    """Binary weights of latent ``w``: ``+1`` where ``w > 0``, else ``-1`` (float)."""
    return np.where(np.asarray(w) > 0.0, 1.0, -1.0)


def default_readout(k: int, activation: str) -> np.ndarray:
    """The fixed second layer: ones, or ``(-1)^l`` for ``relu`` (module docstring)."""
    if activation == "relu":
        return np.where(np.arange(k) % 2 == 0, 1.0, -1.0)
    return np.ones(k)


def _resolve(weights, x, labels, rows, activation, readout):
    """(K, n) weights, (B, N) float patterns, labels, activation name, read-out."""
    w = np.asarray(weights, dtype=np.float64)
    perceptron = w.ndim == 1
    wk = w[None, :] if perceptron else w
    x = np.asarray(x, dtype=np.float64)
    if rows is not None:
        x = x[np.asarray(rows)]
    if labels is not None:
        labels = np.asarray(labels, dtype=np.float64)
        if rows is not None:
            labels = labels[np.asarray(rows)]
    if activation is None:
        activation = "linear" if perceptron else "tanh"
    k = wk.shape[0]
    c = (
        default_readout(k, activation)
        if readout is None
        else np.asarray(readout, dtype=np.float64)
    )
    return wk, x, labels, activation, c


def _effective(wk, normalise, binary):
    """Weights of the forward; field scales ``1/sqrt(n_in)`` or ``1/|W_l|``."""
    if binary:
        wk = binarise(wk)
    if normalise:
        return wk, 1.0 / np.linalg.norm(wk, axis=1)
    return wk, np.full(wk.shape[0], 1.0 / np.sqrt(wk.shape[1]))


def _fields(we, scale, x, fully_connected):
    b = x.shape[0]
    k, n = we.shape
    if fully_connected or k == 1:
        raw = x @ we.T
    else:  # tree: (B, K, n) . (K, n) -> (B, K)
        raw = np.einsum("bkn,kn->bk", x.reshape(b, k, n), we)
    return raw * scale[None, :]


def hidden_fields(weights, x, *, fully_connected=False, normalise=False, binary=False):
    """Hidden fields ``h[mu, l]``, float64 ``(B, K)`` (``K = 1`` for a perceptron)."""
    wk, x, _, _, _ = _resolve(weights, x, None, None, "linear", None)
    we, scale = _effective(wk, normalise, binary)
    return _fields(we, scale, x, fully_connected)


def _activate(h, activation):
    if activation == "linear":
        return h, np.ones_like(h)
    if activation == "tanh":
        t = np.tanh(h)
        return t, 1.0 - t * t
    if activation == "relu":
        return np.maximum(h, 0.0), (h > 0.0).astype(np.float64)
    return np.sign(h), None


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
):
    """Outputs ``sum_l c_l a(h_l) / sqrt(K)`` of the patterns ``x[rows]``, ``(B,)``."""
    wk, x, _, activation, c = _resolve(weights, x, None, rows, activation, readout)
    we, scale = _effective(wk, normalise, binary)
    a, _ = _activate(_fields(we, scale, x, fully_connected), activation)
    return a @ c / np.sqrt(wk.shape[0])


def loss_values(delta, loss="ce", gamma=1.0, kappa=0.0):
    """Per-pattern loss of stabilities ``delta`` (module docstring)."""
    d = np.asarray(delta, dtype=np.float64)
    if loss == "ce":
        if np.isinf(gamma):
            return np.maximum(0.0, -d)
        return np.logaddexp(0.0, -2.0 * gamma * d) / (2.0 * gamma)
    if loss == "hinge":
        return np.maximum(0.0, kappa - d)
    return 0.5 * (1.0 - d) ** 2


def loss_derivatives(delta, loss="ce", gamma=1.0, kappa=0.0):
    """``d loss / d Delta`` (hinge: subgradient ``0`` at the kink)."""
    d = np.asarray(delta, dtype=np.float64)
    if loss == "ce":
        if np.isinf(gamma):
            return np.where(d < 0.0, -1.0, 0.0)
        # -1 / (1 + exp(2 gamma Delta)) = -expit(-2 gamma Delta)
        from scipy.special import expit

        return -expit(-2.0 * gamma * d)
    if loss == "hinge":
        return np.where(d < kappa, -1.0, 0.0)
    return d - 1.0


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
):
    """Minibatch-mean loss; its gradient (straight-through for binary) into grad_out.

    Chain rule: with ``coef[mu, l] = loss'(Delta) sigma c_l a'(h_l) / sqrt(K)``,
    ``dL/dW_l = mean_mu coef[mu, l] dh_l/dW_l``, where ``dh_l/dW_l = xi_l / sqrt(n_in)``
    (plain, and binary at ``sign(W)``) or ``(xi_l - h_l W_l / |W_l|) / |W_l|``
    (normalised).
    """
    wk, x, labels, activation, c = _resolve(
        weights, x, labels, rows, activation, readout
    )
    k, n = wk.shape
    bsz = x.shape[0]
    we, scale = _effective(wk, normalise, binary)
    h = _fields(we, scale, x, fully_connected)
    a, da = _activate(h, activation)
    delta = labels * (a @ c) / np.sqrt(k)
    coef = (loss_derivatives(delta, loss, gamma, kappa) * labels)[:, None]
    coef = coef * da * c[None, :] / np.sqrt(k)
    if fully_connected or k == 1:
        g = coef.T @ x  # (K, N)
    else:
        g = np.einsum("bk,bkn->kn", coef, x.reshape(bsz, k, n))
    g = g * scale[:, None]
    if normalise:
        g -= (np.sum(coef * h, axis=0) * scale)[:, None] * we * scale[:, None]
    grad_out[...] = (g / bsz).reshape(np.shape(grad_out))
    return float(np.mean(loss_values(delta, loss, gamma, kappa)))


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
):
    """Number of patterns with ``Delta = sigma out <= kappa``."""
    out = forward(
        weights,
        x,
        fully_connected=fully_connected,
        activation=activation,
        readout=readout,
        normalise=normalise,
        binary=binary,
        rows=rows,
    )
    lab = np.asarray(labels, dtype=np.float64)
    if rows is not None:
        lab = lab[np.asarray(rows)]
    return int(np.count_nonzero(lab * out <= kappa))
