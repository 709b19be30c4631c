"""The public entry points behind ``wfm`` and the ``wfm`` command.

Data flows one way (design.md): ``config -> data -> learner -> store``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

from wfm.config import MACHINE_MODELS, RunSpec
from wfm.errors import ConfigError
from wfm.store import Run, RunWriter, append_group, open_run

__all__ = [
    "DEFAULT_OUT_DIR",
    "default_out_path",
    "model_train_errors",
    "run",
    "theory_result",
]

#: where runs go when no output path is given (git-ignored)
DEFAULT_OUT_DIR = Path("wfm-out")


def default_out_path(spec: RunSpec) -> Path:
    """``wfm-out/<model>_<learner>_n<N>_alpha<alpha>_seed<seed>.h5``."""
    name = (
        f"{spec.model.name}_{spec.learner.name}_n{spec.model.n}"
        f"_alpha{spec.data.alpha:g}_seed{spec.seed}.h5"
    )
    return DEFAULT_OUT_DIR / name


def run(spec: RunSpec, out=None, progress: bool = False, quiet: bool = True) -> Run:
    """Generate the data of ``spec``, run its learner and store everything.

    Parameters
    ----------
    spec : RunSpec
        The (already validated) run configuration.
    out : path-like, optional
        Output file ``F.h5`` (default :func:`default_out_path`). The run is written to
        ``F.h5.partial`` and renamed when complete.
    progress : bool
        Show the learner's progress bar (tqdm, on stderr).
    quiet : bool
        If false, print a one-line summary on stderr at the end.

    Returns
    -------
    Run
        The stored run, opened for reading.
    """
    from wfm.data import generate_for, run_generators
    from wfm.learners import get_learner

    if not isinstance(spec, RunSpec):
        raise TypeError(f"spec must be a RunSpec, got {type(spec).__name__}")
    if spec.device != "cpu":
        raise ConfigError(
            f"device {spec.device!r} is not yet supported by learner "
            f'{spec.learner.name!r}; use device = "cpu"'
        )
    out = Path(out) if out is not None else default_out_path(spec)
    learner = get_learner(spec.learner.name)
    machine = spec.model.name in MACHINE_MODELS
    learn_kwargs = {}
    if machine:
        # committee/parity machines: fBP on the machine's factor graph, same params
        if spec.learner.name != "fbp":
            raise ConfigError(
                f"learner {spec.learner.name!r} does not support model "
                f"{spec.model.name!r}; use learner fbp"
            )
        from wfm.learners import fbp_machine as learner

        learn_kwargs = {"model": spec.model.name, "k": spec.model.k}
    data_rng, learner_rng = run_generators(spec.seed)
    dataset = generate_for(spec, data_rng)

    with RunWriter(out, spec) as writer:
        writer.write_data(dataset)
        t0 = time.perf_counter()
        result = learner.learn(
            dataset.patterns,
            dataset.labels,
            params=dict(spec.learner.params),
            kappa=spec.model.kappa,
            rng=learner_rng,
            trace=writer.append_trace,
            progress=progress,
            **learn_kwargs,
        )
        wall = time.perf_counter() - t0
        # the stored error count is the numpy reference's, whatever the learner says
        errors = model_train_errors(
            spec.model, result.weights, dataset.patterns, dataset.labels
        )
        if errors != result.train_errors:
            warnings.warn(
                f"learner {spec.learner.name} reported {result.train_errors} training "
                f"errors, the reference count is {errors}; storing {errors}",
                RuntimeWarning,
                stacklevel=2,
            )
        writer.write_solution(result, wall, train_errors=errors)
        path = writer.complete()
    if not quiet:
        print(
            f"wfm: {spec.learner.name} N={spec.model.n} alpha={spec.data.alpha:g} "
            f"seed={spec.seed}: {errors} training errors after {result.iterations} "
            f"iterations ({wall:.2f} s) -> {path}",
            file=sys.stderr,
        )
    return open_run(path)


def model_train_errors(model, weights, patterns, labels) -> int:
    """Training errors by the numpy reference of ``model`` (a :class:`ModelSpec`)."""
    from wfm.models import committee, parity, perceptron

    if model.name == "parity":
        return parity.train_errors(weights, patterns, labels, model.k)
    if model.name in ("committee-tree", "committee-full"):
        full = model.name == "committee-full"
        return committee.train_errors(weights, patterns, labels, model.k, full)
    return perceptron.train_errors(weights, patterns, labels, model.kappa)


def theory_result(
    quantity: str,
    model: str = "perceptron-binary",
    alpha: float | None = None,
    kappa: float = 0.0,
    kind: str = "typical",
    distances=None,
    progress: bool = False,
) -> tuple[str, dict, dict]:
    """Compute a :mod:`wfm.theory` quantity as (group name, arrays, attrs).

    Parameters
    ----------
    quantity : {"entropy", "local-entropy", "capacity"}
    model : str
    alpha : float
        Load (not used for ``capacity``).
    kappa : float
    kind : {"typical", "large-deviation", "teacher"}
        For ``local-entropy``: typical solutions of the storage problem
        (Franz–Parisi), the densest regions (large deviation), or the teacher of a
        teacher–student instance (a typical solution of that ensemble).
    distances : array_like, optional
        For ``local-entropy``; default 30 points in ``[0.005, 0.3]`` (12 for the
        slow large-deviation solver).
    progress : bool
        Progress bar over the distances of the slower curves.

    Returns
    -------
    name : str
        Suggested group name under ``/theory/``.
    arrays : dict
        1-D arrays (curves), empty for scalars.
    attrs : dict
        Parameters and scalar results.
    """
    from wfm import theory

    if quantity == "capacity":
        value = theory.capacity(model=model, kappa=kappa)
        attrs = {"kind": "capacity", "model": model, "kappa": kappa, "value": value}
        return f"capacity{_model_tag(model)}_kappa{kappa:g}", {}, attrs
    if alpha is None:
        raise ConfigError(f"theory {quantity} needs --alpha")
    if quantity == "entropy":
        r = theory.gardner_entropy(alpha, kappa=kappa, model=model)
        return (
            f"entropy{_model_tag(model)}_alpha{alpha:g}_kappa{kappa:g}",
            {},
            r.attrs(),
        )
    if quantity == "local-entropy":
        if distances is None:
            n = 12 if kind == "large-deviation" else 30
            distances = np.linspace(0.005, 0.3, n)
        if kind == "typical":
            curve = theory.local_entropy_typical(alpha, distances, kappa, model)
        elif kind == "large-deviation":
            curve = theory.local_entropy_large_deviation(
                alpha, distances, kappa, model, progress=progress
            )
        elif kind == "teacher":
            if kappa != 0.0 or model != "perceptron-binary":
                raise ConfigError(
                    "kind teacher is the binary perceptron at kappa = 0 only"
                )
            curve = theory.local_entropy_teacher(alpha, distances, progress=progress)
        else:
            raise ConfigError(
                f"kind must be one of typical, large-deviation, teacher; got {kind!r}"
            )
        name = f"local_entropy_{kind}{_model_tag(model)}_alpha{alpha:g}_kappa{kappa:g}"
        return name, curve.to_arrays(), curve.attrs()
    raise ConfigError(
        f"theory quantity must be one of entropy, local-entropy, capacity; "
        f"got {quantity!r}"
    )


def _model_tag(model):
    """Group-name tag: empty for the binary perceptron (the default), else the model."""
    return "" if model == "perceptron-binary" else "_" + model.replace("-", "_")


def store_theory(path, name, arrays, attrs):
    """Write a theory result under ``/theory/<name>`` of ``path``."""
    return append_group(path, f"/theory/{name}", arrays, attrs)
