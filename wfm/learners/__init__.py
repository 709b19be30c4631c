"""Learners: orchestration of kernels (schedules, stopping rules, traces).

Every learner module exposes ``DEFAULTS`` (its parameters and their default values)
and ``learn(patterns, labels, *, params, kappa, rng, trace=None, progress=False)``
returning a :class:`LearnerResult`.
"""

from wfm.learners._result import LearnerResult

__all__ = ["LearnerResult", "get_learner", "LEARNER_NAMES"]

LEARNER_NAMES = ("bp", "fbp", "entropy-mc")


def get_learner(name):
    """The learner module called ``name`` (e.g. ``"fbp"``)."""
    import importlib

    if name not in LEARNER_NAMES:
        raise ValueError(f"unknown learner {name!r}; choose one of {LEARNER_NAMES}")
    return importlib.import_module(f"wfm.learners.{name.replace('-', '_')}")
