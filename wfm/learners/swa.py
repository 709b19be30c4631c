"""Stochastic weight averaging (``swa``; ``dense = true``: SWAD).

SWA (Izmailov et al., *Averaging weights leads to wider optima and better
generalization*, UAI 2018, arXiv:1803.05407): SGD first, then a phase of ``swa_epochs``
epochs at the learning rate ``swa_lr`` (0: keep the ``lr`` schedule) whose iterates
are averaged, one per epoch, and the average is the network. SWAD (Cha et al., *SWAD:
domain generalization by seeking flat minima*, NeurIPS 2021, arXiv:2102.08604)
averages densely, after every minibatch step; its validation-loss choice of the window
is replaced by the same fixed window (no validation set here).

The averaging phase starts when the SGD iterate first has zero training errors, or
after ``swa_start`` epochs at the latest (``0``: only at zero errors), and lasts
``swa_epochs`` epochs whatever the errors; the run then stops, solved if the average
has zero errors (``epochs`` bounds the whole run). Binary models average the latent
weights (the network is the sign of the average); the spherical perceptron's average
is put back on ``|W|^2 = N`` (it lies inside the sphere). The running mean ``avg +=
(W - avg) / count`` equals the mean of the averaged iterates (tested). Trace:
``iterate_errors`` (of the SGD iterate) and ``averaged`` (iterates in the average);
``errors`` are those of the average once it exists.
"""

from __future__ import annotations

import numpy as np

from wfm.learners._result import LearnerResult
from wfm.learners.sgd import StepRule, minibatch_descent


class SWARule(StepRule):
    """Plain SGD steps; iterates averaged during the averaging phase."""

    def __init__(self, params, shape, grad_of, project):
        super().__init__(params, shape, grad_of, project)
        self.start_at, self.length = params["swa_start"], params["swa_epochs"]
        self.swa_lr, self.dense = params["swa_lr"], params["dense"]
        self.avg = np.zeros(shape)
        self.count = 0
        self.phase_epochs = 0  # epochs done in the averaging phase
        self.averaging = False

    def state(self):
        return {
            "avg": self.avg.copy(),
            "count": self.count,
            "phase_epochs": self.phase_epochs,
            "averaging": int(self.averaging),
        }

    def restore(self, state):
        self.avg[...] = np.asarray(state["avg"]).reshape(self.avg.shape)
        self.count = int(state["count"])
        self.phase_epochs = int(state["phase_epochs"])
        self.averaging = bool(state["averaging"])

    def begin_epoch(self, t):
        if not self.averaging and self.start_at and t >= self.start_at:
            self.averaging = True

    def add(self, w):
        """One more iterate in the running mean."""
        self.count += 1
        self.avg += (w - self.avg) / self.count

    def step(self, w, rows, lr, gamma):
        if self.averaging and self.swa_lr > 0.0:
            lr = self.swa_lr
        loss = super().step(w, rows, lr, gamma)
        if self.averaging and self.dense:
            self.add(w)
        return loss

    def end_epoch(self, w, t):
        if self.averaging:
            if not self.dense:
                self.add(w)
            self.phase_epochs += 1
        return {"averaged": self.count, "iterate_errors": self.errors_of(w)}

    def network(self, w):
        return self.avg if self.count else w

    def done(self, errors):
        # before the average exists, ``errors`` are the iterate's
        if not self.averaging and errors == 0:
            self.averaging = True
        return self.averaging and self.phase_epochs >= self.length

    def attrs(self):
        return {"averaged": self.count, "averaging_epochs": self.phase_epochs}


def learn(problem, params, ctx) -> LearnerResult:
    """SWA / SWAD (registry entry ``swa``); see
    :func:`wfm.learners.sgd.minibatch_descent`."""
    return minibatch_descent(problem, params, ctx, SWARule, desc="swa")
