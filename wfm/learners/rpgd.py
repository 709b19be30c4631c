"""Random-perturbation gradient descent (``rpgd``): descent on the Gaussian-smoothed
loss, which penalises the trace of the Hessian.

With ``z ~ N(0, I)``,
``E_z L(W + sigma z) = L(W) + (sigma^2 / 2) tr H(W) + O(sigma^4)``, so a gradient
taken at a randomly perturbed point is an unbiased estimate of the gradient of the
smoothed loss, ``grad L + (sigma^2 / 2) grad tr H + O(sigma^4)``: descent along it
drifts towards small Hessian trace (flat minima in the trace sense).
Ahn, Jadbabaie & Sra, *How to escape sharp minima with random perturbations*, ICML
2024, arXiv:2305.15659, analyse this scheme (perturbation uniform on a sphere of
radius rho, ``E = L + rho^2 tr H / (2 d)``; the Gaussian form here has per-weight
variance ``sigma^2``, i.e. ``rho^2 = d sigma^2``).

Each step averages the gradients at ``samples`` perturbations ``W + sigma z`` (fresh
``z`` per step from the ``gradient_noise`` stream); ``samples = 1`` is the cheap
variant, one perturbation per step. ``antithetic`` pairs every ``z`` with ``-z``, which
cancels the first-order noise ``sigma H z`` of the estimate exactly (twice the
gradients). The returned network is the unperturbed ``W``. Continuous weights: the
perturbation is isotropic in ``R^N`` (the normalised fields make its radial part
irrelevant to first order), ``W`` is put back on the sphere after the step; binary
models perturb the latent weights. Not implemented: their "faster" ERM variant, which
perturbs along a random-sign sum of per-sample gradients (needs per-sample gradients
from the kernels).
"""

from __future__ import annotations

import numpy as np

from wfm.learners._result import LearnerResult
from wfm.learners.sgd import StepRule, minibatch_descent


def perturbed_gradient(w, rows, gamma, grad_of, sigma, samples, antithetic, rng, out):
    """Mean gradient at ``samples`` (x2 if ``antithetic``) points ``W +- sigma z``.

    Parameters
    ----------
    w : ndarray
        The weights.
    rows, gamma
        Passed to ``grad_of``.
    grad_of : callable
        ``grad_of(point, rows, gamma, out) -> loss`` (minibatch loss and gradient).
    sigma : float
        Standard deviation of the perturbation of each weight.
    samples : int
        Independent perturbations ``z`` drawn.
    antithetic : bool
        Also evaluate at ``W - sigma z``.
    rng : numpy.random.Generator
        Source of ``z``.
    out : ndarray
        Receives the mean gradient.

    Returns
    -------
    float
        The mean loss at the perturbed points (an estimate of the smoothed loss).
    """
    probe, g = np.empty_like(w), np.empty_like(w)
    out[...] = 0.0
    total, count = 0.0, 0
    signs = (1.0, -1.0) if antithetic else (1.0,)
    for _ in range(samples):
        z = rng.standard_normal(w.shape)
        for s in signs:
            np.multiply(z, s * sigma, out=probe)
            probe += w
            total += grad_of(probe, rows, gamma, g)
            out += g
            count += 1
    out /= count
    return total / count


class RPGDRule(StepRule):
    """SGD along the perturbed-gradient estimate of :func:`perturbed_gradient`."""

    streams = ("gradient_noise",)

    def __init__(self, params, shape, grad_of, project):
        super().__init__(params, shape, grad_of, project)
        self.sigma = params["sigma"]
        self.samples, self.antithetic = params["samples"], params["antithetic"]

    def step(self, w, rows, lr, gamma):
        loss = perturbed_gradient(
            w, rows, gamma, self.grad_of, self.sigma, self.samples, self.antithetic,
            self.rngs["gradient_noise"], self.grad,
        )  # fmt: skip
        w -= lr * self.grad
        self.project(w)
        return loss


def learn(problem, params, ctx) -> LearnerResult:
    """RPGD until zero training errors (registry entry ``rpgd``); see
    :func:`wfm.learners.sgd.minibatch_descent`."""
    return minibatch_descent(problem, params, ctx, RPGDRule, desc="rpgd")
