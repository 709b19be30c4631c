"""Sharpness-aware minimisation (``sam``) [S] on the minibatch loop of ``sgd-ce``.

Each step of :func:`wfm.learners.sgd.minibatch_descent` takes the gradient at
``W + eps``, ``eps = rho g / |g|`` (Foret et al. 2021) or, with ``adaptive``,
``rho |W|^2 g / | |W| g |`` (ASAM, Kwon et al. 2021):
:class:`~wfm.learners.sgd.SAMRule`. Everything else — models, losses, schedules,
stopping, trace, checkpoints — is ``sgd-ce``'s.
"""

from __future__ import annotations

from wfm.learners._result import LearnerResult
from wfm.learners.sgd import SAMRule, minibatch_descent


def learn(problem, params, ctx) -> LearnerResult:
    """SAM until zero training errors (registry entry ``sam``); see
    :func:`wfm.learners.sgd.minibatch_descent`."""
    return minibatch_descent(problem, params, ctx, SAMRule, desc="sam")
