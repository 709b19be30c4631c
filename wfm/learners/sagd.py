"""Sharpness-aware gradient descent (``sa-gd``): gradient steps on the maximal loss in
a ball of radius ``rho`` around the weights.

SA-GD minimises ``L_rho(W) = max_{|eps| <= rho} L(W + eps)``; by Danskin's theorem
its gradient is ``grad L(W + eps*)`` at the maximiser ``eps*``. SAM (Foret et al.
2021, arXiv:2010.01412) is its cheap approximation, one normalised ascent step
``eps = rho g / |g|``; SA-GD as analysed by Schliserman, Vansover-Hager & Koren,
*Flat minima and generalization: insights from stochastic convex optimization*,
arXiv:2511.03548 (2025) ("gradient steps on the maximal loss in a predefined
neighborhood"), solves the inner maximisation. Here it is solved approximately by
``ascent_steps`` steps of projected normalised gradient ascent on the minibatch loss,
step ``j = 0, 1, ...`` of length ``rho / (j + 1)`` followed by the projection on the
ball (``adaptive``: the ASAM ball ``|eps / |W|| <= rho`` and its ascent direction
``T^2 g / |T g|``, ``T = |W|``). ``ascent_steps = 1`` is SAM bit for bit; each extra
step costs one more gradient. Everything else — models, losses, schedules, stopping,
trace (``sharpness`` = epoch mean of ``L(W + eps) - L(W)``), checkpoints — is the
loop of ``sgd-ce`` (:func:`wfm.learners.sgd.minibatch_descent`).
"""

from __future__ import annotations

import numpy as np

from wfm.learners._result import LearnerResult
from wfm.learners.sgd import SAMRule, _sam_ascent, minibatch_descent


class SAGDRule(SAMRule):
    """SAM's step with the ascent iterated ``ascent_steps`` times inside the ball."""

    def __init__(self, params, shape, grad_of, project):
        super().__init__(params, shape, grad_of, project)
        self.steps = params["ascent_steps"]
        self.move = np.empty(shape)

    def _ball_norm(self, w, eps):
        if not self.adaptive:
            return float(np.linalg.norm(eps))
        t = np.abs(w)
        scaled = np.divide(eps, t, out=np.zeros_like(eps), where=t > 0.0)
        return float(np.linalg.norm(scaled))

    def ascent(self, w, rows, gamma, loss):
        worst = super().ascent(w, rows, gamma, loss)  # step 0: SAM's eps, bitwise
        for j in range(1, self.steps):
            _sam_ascent(w, self.grad, self.rho / (j + 1), self.adaptive, self.move)
            self.eps += self.move
            r = self._ball_norm(w, self.eps)
            if r > self.rho:
                self.eps *= self.rho / r
            np.add(w, self.eps, out=self.probe)
            worst = self.grad_of(self.probe, rows, gamma, self.grad)
        return worst


def learn(problem, params, ctx) -> LearnerResult:
    """SA-GD until zero training errors (registry entry ``sa-gd``); see
    :func:`wfm.learners.sgd.minibatch_descent`."""
    return minibatch_descent(problem, params, ctx, SAGDRule, desc="sa-gd")
