"""The learner registry: every learning algorithm, its parameters declared as data.

A :class:`LearnerInfo` entry names the learner's module, its parameters
(:class:`wfm.params.Param`: type, default — per model where it differs — constraint,
one-line doc), the models it supports, what it aims for, the kernel families it runs
on (which decides the devices it supports) and the fields of its trace (dtype,
description, units). Config validation reads only this data: importing the registry
imports no numba and no learner module (loaded by :meth:`LearnerInfo.load`).

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
    "learn",
    "learner_names",
    "register",
]


def learn(
    name, patterns, labels, *, model=None, k=1, kappa=0.0, params=None, seed=0,
    trace=None, progress=False, device="cpu", external_field=None,
):  # fmt: skip
    """Run learner ``name`` on arrays, without a run file.

    Parameters
    ----------
    name : str
        A registered learner.
    patterns, labels : arrays
    model : str, optional
        A registered model (default the binary perceptron); ``k`` its hidden units.
    kappa : float
    params : dict, optional
        Parameter values; the rest are the learner's defaults for ``model``.
    seed : int
        Root seed of the named streams (:mod:`wfm.rng`).
    trace : callable, optional
        Receives every trace record.
    progress : bool
    device : {"cpu", "cuda"}
        Where the learner's kernels run (:mod:`wfm.backends`).
    external_field : array_like, optional
        Fields added to the weights' total fields (``lambda W~`` keeps the solution
        near ``W~``); see :class:`Problem`. fBP only.

    Returns
    -------
    LearnerResult
    """
    import numpy as np

    from wfm.backends import check_devices, families_for
    from wfm.models import DEFAULT_MODEL, get_model

    info = get_model(model or DEFAULT_MODEL)
    info.check_learner(name)
    entry = get_learner(name)
    resolved = entry.resolve(dict(params or {}), info)
    arch = info.architecture(k)
    check_devices(device, families_for(entry.kernels, arch), f"learner {name!r}")
    if not entry.pattern_storage:
        patterns = np.asarray(patterns)
    if external_field is not None and not entry.external_field:
        raise ValueError(f"learner {name!r} does not take an external_field")
    field = None if external_field is None else np.asarray(external_field, np.float64)
    problem = Problem(
        patterns, np.asarray(labels), arch, float(kappa), external_field=field
    )
    ctx = RunContext(seed=seed, trace_sink=trace, progress=progress, device=device)
    return entry.load().learn(problem, resolved, ctx)
