"""Local energy: how much the training error (and loss) grows under weight noise.

Definition (science.md §5; Pittorino et al., ICLR 2021 [P2], eq. 5)::

    delta E(sigma) = E_z[ E_train(W * (1 + sigma z)) ] - E_train(W),   z ~ N(0, I),

a multiplicative Gaussian perturbation of relative size ``sigma`` (continuous
weights; multiplicative, so that it is invariant under a rescaling of the weights
and of each unit). For binary weights the perturbation flips a random fraction ``p``
of the weights (``round(p N)`` distinct weights, uniformly), the binary analogue: at
small ``p`` a flat minimum keeps ``delta E`` small, an isolated one does not.
``E_train`` is the fraction of misclassified training patterns; optionally the mean
training loss is perturbed too (``delta L``).

Draws are common random numbers: draw ``t`` uses one ``z`` (or one random order of
the weights, the first ``round(p N)`` of which are flipped) for every ``sigma``, so a
curve is smooth in ``sigma`` and differences between sigmas are estimated with less
noise; the standard errors are those of the mean over draws at each ``sigma``.

Pure: the network enters as callables ``error(weights) -> float`` and, optionally,
``loss(weights) -> float`` (the API builds them from the model registry and the
kernels), randomness as a ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

__all__ = ["MODES", "LocalEnergyResult", "local_energy"]

MODES = ("gaussian", "flip")


@dataclass(frozen=True)
class LocalEnergyResult:
    """``delta E`` (and ``delta L``) as a function of the perturbation size.

    Attributes
    ----------
    mode : {"gaussian", "flip"}
    sigma : ndarray
        Relative noise ``sigma`` (gaussian) or flipped fraction ``p`` (flip).
    delta_error, delta_error_stderr : ndarray
        Mean increase of the training-error fraction over draws, its standard error.
    delta_loss, delta_loss_stderr : ndarray
        Same for the mean training loss (NaN without a loss).
    base_error : float
        Training-error fraction of the unperturbed weights.
    base_loss : float
        Its loss (NaN without a loss).
    draws : int
    n_params : int
    flips : ndarray
        Weights flipped at each ``p`` (flip mode; zeros otherwise).
    """

    mode: str
    sigma: np.ndarray
    delta_error: np.ndarray
    delta_error_stderr: np.ndarray
    delta_loss: np.ndarray
    delta_loss_stderr: np.ndarray
    base_error: float
    base_loss: float
    draws: int
    n_params: int
    flips: np.ndarray

    def to_arrays(self) -> dict:
        return {
            "sigma": self.sigma,
            "delta_error": self.delta_error,
            "delta_error_stderr": self.delta_error_stderr,
            "delta_loss": self.delta_loss,
            "delta_loss_stderr": self.delta_loss_stderr,
            "flips": self.flips,
        }

    def descriptions(self) -> dict:
        size = (
            "relative std of the multiplicative Gaussian noise W(1 + sigma z)"
            if self.mode == "gaussian"
            else "fraction p of the weights flipped"
        )
        return {
            "sigma": (size, "1"),
            "delta_error": (
                "mean increase of the training-error fraction over noise draws",
                "fraction of patterns",
            ),
            "delta_error_stderr": (
                "standard error of delta_error over the draws",
                "fraction of patterns",
            ),
            "delta_loss": (
                "mean increase of the mean training loss over noise draws (NaN: no "
                "loss)",
                "loss units",
            ),
            "delta_loss_stderr": ("standard error of delta_loss", "loss units"),
            "flips": ("weights flipped at each p (0 for gaussian noise)", "weights"),
        }

    def attrs(self) -> dict:
        return {
            "mode": self.mode,
            "draws": self.draws,
            "n_params": self.n_params,
            "base_error": self.base_error,
            "base_loss": self.base_loss,
        }


def _stats(samples):
    mean = samples.mean(axis=0)
    if samples.shape[0] < 2:
        return mean, np.full_like(mean, np.nan)
    return mean, samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])


def local_energy(
    weights,
    error,
    sigmas,
    *,
    mode="gaussian",
    draws=100,
    loss=None,
    rng=None,
    progress=False,
):
    """``delta E(sigma)`` of ``weights`` under multiplicative noise or random flips.

    Parameters
    ----------
    weights : array
        The minimiser (any shape; ±1 for ``mode="flip"``).
    error : callable
        ``error(weights) -> float``, the training-error fraction.
    sigmas : array_like
        Noise sizes (``>= 0``); flip fractions in ``[0, 1]`` for ``mode="flip"``.
    mode : {"gaussian", "flip"}
    draws : int
        Noise draws per sigma (``>= 2`` for an error bar).
    loss : callable, optional
        ``loss(weights) -> float``, the mean training loss.
    rng : numpy.random.Generator, optional
    progress : bool

    Returns
    -------
    LocalEnergyResult
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    sig = np.atleast_1d(np.asarray(sigmas, dtype=np.float64))
    if sig.ndim != 1 or sig.size == 0 or not np.all(np.isfinite(sig)):
        raise ValueError("sigmas must be a non-empty list of finite numbers")
    if np.any(sig < 0) or (mode == "flip" and np.any(sig > 1)):
        bound = "in [0, 1]" if mode == "flip" else ">= 0"
        raise ValueError(f"sigmas must be {bound} for mode {mode}, got {sig.tolist()}")
    if int(draws) != draws or draws < 1:
        raise ValueError(f"draws must be an integer >= 1, got {draws}")
    draws = int(draws)
    rng = np.random.default_rng(0) if rng is None else rng
    w = np.asarray(weights, dtype=np.float64)
    n = w.size
    flips = np.rint(sig * n).astype(np.int64) if mode == "flip" else np.zeros(
        sig.size, dtype=np.int64
    )  # fmt: skip
    base_error = float(error(w))
    base_loss = float(loss(w)) if loss is not None else math.nan
    d_err = np.empty((draws, sig.size))
    d_loss = np.full((draws, sig.size), np.nan)
    for t in tqdm(range(draws), disable=not progress, desc="local energy",
                  leave=False):  # fmt: skip
        if mode == "gaussian":
            z = rng.standard_normal(w.shape)
        else:
            order = rng.permutation(n)
        for j, s in enumerate(sig):
            if mode == "gaussian":
                pert = w * (1.0 + s * z)
            else:
                flat = w.ravel().copy()
                idx = order[: flips[j]]
                flat[idx] = -flat[idx]
                pert = flat.reshape(w.shape)
            d_err[t, j] = float(error(pert)) - base_error
            if loss is not None:
                d_loss[t, j] = float(loss(pert)) - base_loss
    de, de_se = _stats(d_err)
    dl, dl_se = _stats(d_loss)
    return LocalEnergyResult(
        mode, sig, de, de_se, dl, dl_se, base_error, base_loss, draws, n, flips
    )
