"""The learner registry: every learning algorithm, its parameters declared as data.

A :class:`LearnerInfo` entry names the learner's module, its parameters
(:class:`wfm.params.Param`: type, default — per model where it differs — constraint,
one-line doc), the models it supports, what it aims for, the kernel families it runs
on (which decides the devices it supports) and the fields of its trace (dtype,
description, units). Config validation reads only this data: importing the registry
imports no numba and no learner module (the module is loaded on :meth:`LearnerInfo.load`).

Every learner module exposes ``learn(problem, params, ctx) -> LearnerResult``:

* ``problem`` — :class:`Problem`: patterns, labels, the model's
  :class:`~wfm.models.Architecture`, the margin ``kappa``;
* ``params`` — the resolved parameters (every declared name present);
* ``ctx`` — :class:`RunContext`: named random streams, ``trace(record)``,
  ``checkpoint(make_state)`` at safe points, ``resumed`` (the state to continue from,
  or ``None``), ``progress``.

Adding a learner is one module plus one :func:`register` call in
:mod:`wfm.learners.registry`.
"""

from wfm.learners._result import LearnerResult
from wfm.learners.context import Problem, RunContext
from wfm.learners.registry import (
    LEARNERS,
    LearnerInfo,
    get_learner,
    learner_names,
    register,
)

__all__ = [
    "LEARNERS",
    "LearnerInfo",
    "LearnerResult",
    "Problem",
    "RunContext",
    "get_learner",
    "learner_names",
    "register",
]
