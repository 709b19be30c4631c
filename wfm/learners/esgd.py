"""Entropy-SGD (``esgd``): descent on the local entropy, its gradient estimated by an
inner Langevin loop (Chaudhari et al., *Entropy-SGD: biasing gradient descent into
wide valleys*, ICLR 2017, arXiv:1611.01838, Algorithm 1).

The local free entropy ``F(W; gamma) = ln int dW' exp(-L(W') - gamma |W - W'|^2 / 2)``
has gradient ``-gamma (W - <W'>)``, the average over the Gibbs measure of ``W'``
coupled to ``W``. One outer step, from ``W' = mu = W``, runs ``inner_steps`` steps of
SGLD, each on the next minibatch of the epoch's order::

    dW' = grad L(W') - gamma (W - W')
    W'  = W' - inner_lr dW' + sqrt(inner_lr) noise N(0, I)
    mu  = (1 - average) mu + average W'

then moves ``W <- W - lr gamma (W - mu)``. The noise term is the paper's
``sqrt(eta') eps N(0, I)`` (its Algorithm 1; the authors' code scales it differently,
by a factor of 2 — we follow the paper). ``coupling`` (the paper's gamma, "scoping")
is a schedule of the epoch, grown as in the paper (``gamma_0 (1 + gamma_1)^t``);
``gamma`` stays, as for every minibatch learner here, the inverse temperature of the
cross-entropy. An epoch's last outer step uses the minibatches left (fewer than
``inner_steps`` if they do not divide), so the epoch head — a safe point — holds only
``W``. Continuous weights: ``W`` and ``W'`` are put back on the sphere after every
move; binary models: latent weights (straight-through gradients), network
``sign(W)``.

Exact limit (tested): ``inner_steps = 1``, ``average = 1``, ``noise = 0`` and
``lr coupling = 1`` make the outer step ``W <- W - inner_lr grad L(W)``, plain SGD.
Trace: ``coupling`` and ``distance`` (the epoch mean of ``|W - mu| / sqrt(n)``).
"""

from __future__ import annotations

import math

import numpy as np

from wfm.learners._result import LearnerResult
from wfm.learners.schedules import parse_schedule
from wfm.learners.sgd import StepRule, minibatch_descent


class EntropySGDRule(StepRule):
    """Inner SGLD steps on the minibatches; an outer step every ``inner_steps``."""

    streams = ("gradient_noise",)

    def __init__(self, params, shape, grad_of, project):
        super().__init__(params, shape, grad_of, project)
        self.coupling_of = parse_schedule(params["coupling"])
        self.inner_lr = float(params["inner_lr"])
        self.noise = float(params["noise"])
        self.avg = float(params["average"])
        self.inner_steps = int(params["inner_steps"])
        self.wp, self.mu = np.empty(shape), np.empty(shape)
        self.count = 0
        self.coupling = self.coupling_of(0)
        self.lr = 0.0
        self._dist, self._outer = 0.0, 0

    def begin_epoch(self, t):
        self.coupling = self.coupling_of(t)

    def step(self, w, rows, lr, gamma):
        self.lr = lr
        if self.count == 0:
            self.wp[...] = w
            self.mu[...] = w
        loss = self.grad_of(self.wp, rows, gamma, self.grad)
        # dW' = grad L(W') - gamma (W - W')
        self.grad += self.coupling * (self.wp - w)
        self.wp -= self.inner_lr * self.grad
        if self.noise > 0.0:
            z = self.rngs["gradient_noise"].standard_normal(self.wp.shape)
            self.wp += (math.sqrt(self.inner_lr) * self.noise) * z
        self.project(self.wp)
        self.mu *= 1.0 - self.avg
        self.mu += self.avg * self.wp
        self.count += 1
        if self.count == self.inner_steps:
            self._outer_step(w)
        return loss

    def _outer_step(self, w):
        self._dist += float(np.linalg.norm(w - self.mu) / math.sqrt(w.size))
        self._outer += 1
        w -= (self.lr * self.coupling) * (w - self.mu)
        self.project(w)
        self.count = 0

    def end_epoch(self, w, t):
        if self.count:
            self._outer_step(w)
        out = {"coupling": self.coupling, "distance": self._dist / max(self._outer, 1)}
        self._dist, self._outer = 0.0, 0
        return out


def learn(problem, params, ctx) -> LearnerResult:
    """Entropy-SGD until zero training errors (registry entry ``esgd``); see
    :func:`wfm.learners.sgd.minibatch_descent`."""
    return minibatch_descent(problem, params, ctx, EntropySGDRule, desc="esgd")
