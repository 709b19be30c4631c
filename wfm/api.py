"""The public entry points behind ``wfm`` and the ``wfm`` command.

Pure core, I/O at the edge (style.md #15): learners and measures take arrays and return
result objects; this module opens files, takes locks, writes groups, installs signal
handlers and records provenance. The command line (:mod:`wfm.cli`) calls only this
module (through the package root).

Data flows one way (design.md): ``config -> data -> learner -> store``, then
``store -> measures/theory -> store -> plot``.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from wfm import store
from wfm.config import RunSpec
from wfm.errors import ConfigError, RunInterrupted
from wfm.rng import stream, stream_keys

__all__ = [
    "DEFAULT_OUT_DIR",
    "StoredRun",
    "analyze_flatness",
    "benchmark",
    "default_out_path",
    "describe_learners",
    "hessian_of_run",
    "load_spec",
    "local_energy_of_run",
    "local_entropy_of_run",
    "open_run",
    "plot_local_entropy",
    "quickstart",
    "resume",
    "run",
    "show",
    "store_theory",
    "generalisation_error_of_run",
    "theory_result",
    "train_errors",
]

#: what a local-entropy curve can be measured around
REFERENCES = ("solution", "teacher")

#: where runs go when no output path is given (git-ignored)
DEFAULT_OUT_DIR = Path("wfm-out")

_DATA_DESCRIPTIONS = {
    "patterns": ("training patterns xi, one per row (P, N)", "1"),
    "labels": ("labels sigma of the patterns, ±1", "1"),
    "teacher": ("weights of the teacher that labelled the patterns", "1"),
    "test_patterns": ("held-out test patterns of real data, one per row", "1"),
    "test_labels": ("labels of the test patterns, ±1", "1"),
}
_SOLUTION_DESCRIPTIONS = {
    "weights": ("the weights the learner returned ((N,), or (K, N) fully connected)",
                "1"),
}  # fmt: skip


# ------------------------------------------------------------------ reading
class StoredRun(store.Run):
    """A stored run: :class:`wfm.store.Run` plus the parsed :class:`RunSpec`, the
    outcome, and data regenerated from the seed when the file does not store them."""

    @property
    def config(self):
        """The :class:`RunSpec` (``None`` for files of theory curves only)."""
        if "_spec" not in self.__dict__:
            d = self.config_dict
            self.__dict__["_spec"] = None if d is None else RunSpec.from_dict(d)
        return self.__dict__["_spec"]

    @property
    def solved(self) -> bool | None:
        """Whether the learner reached its goal (``None`` without a solution)."""
        if "solution" not in self.groups:
            return None
        attrs = self.solution.attrs
        if "solved" in attrs:  # format 2
            return bool(attrs["solved"])
        return bool(attrs.get("converged")) and attrs.get("train_errors") == 0

    def _regenerate_data(self):
        from wfm.data import generate_for

        d = generate_for(self.config)
        out = {"patterns": d.patterns, "labels": d.labels}
        for key in ("teacher", "test_patterns", "test_labels"):
            if getattr(d, key) is not None:
                out[key] = getattr(d, key)
        return out


def open_run(path):
    """Open a run file (complete or ``.partial``) for reading.

    Returns
    -------
    StoredRun
        ``.config`` (:class:`RunSpec`), ``.patterns``, ``.labels``, ``.teacher``,
        ``.weights``, ``.solution``, ``.trace``, ``.group(name)``, ``.summary()``.

    Raises
    ------
    RunFileError
        Missing, truncated, corrupt, not a wfm file, or of an unknown format.
    """
    return StoredRun(path)


def default_out_path(spec: RunSpec) -> Path:
    """``wfm-out/<model>_<learner>_n<N>_alpha<a>_seed<s>_<hash>.h5``; the hash covers
    the whole resolved spec, so runs differing in any setting never share a file."""
    name = (
        f"{spec.model.name}_{spec.learner.name}_n{spec.model.n}"
        f"_alpha{spec.data.alpha:g}_seed{spec.seed}_{spec.short_hash()}.h5"
    )
    return DEFAULT_OUT_DIR / name


def train_errors(model, weights, patterns, labels) -> int:
    """Training errors by the numpy reference of ``model`` (a ModelSpec); a pattern
    storage (``data.kind = "hashed"``) is read in blocks of rows."""
    if isinstance(patterns, np.ndarray):
        return int(
            model.info.train_errors(weights, patterns, labels, model.arch, model.kappa)
        )
    p, n = patterns.shape
    rows = max(1, (1 << 26) // max(n, 1))  # 64 MiB of int8 at a time
    return sum(
        int(
            model.info.train_errors(
                weights,
                patterns.row_block(a, min(a + rows, p)),
                labels[a : a + rows],
                model.arch,
                model.kappa,
            )
        )  # fmt: skip
        for a in range(0, p, rows)
    )


# ---------------------------------------------------------------------- run
def _command_line(command_line):
    if command_line is not None:
        return command_line
    return " ".join(sys.argv) if sys.argv and sys.argv[0] else "python API"


def _root_attrs(spec, command_line):
    return {
        "seed": spec.seed,
        "streams": json.dumps(stream_keys()),
        "command_line": _command_line(command_line),
    }


def _trace_fields(info):
    return dict(info.trace_fields)


def _data_arrays(spec, dataset):
    p = len(dataset.labels)  # real data: the training set's size, not alpha N
    attrs = {
        "kind": spec.data.kind,
        "seed": spec.seed,
        "stream": "data: SeedSequence(seed, spawn_key=(0,))",
        "stored": bool(spec.data.store_data),
        "n_inputs": spec.model.n,
        "n_weights": spec.model.n_weights,
        "n_patterns": p,
        "alpha_nominal": spec.data.alpha,
        "alpha_effective": p / spec.model.n_weights,
        "alpha_counts": spec.model.info.alpha_counts,
        **dataset.attrs,
    }
    arrays = {}
    if spec.data.kind == "hashed":  # regenerated from the seed; nothing N·P stored
        attrs["stored"] = False
        attrs["pattern_key"] = str(dataset.patterns.seed)
    elif spec.data.store_data:
        arrays = {"patterns": dataset.patterns, "labels": dataset.labels}
        for key in ("teacher", "test_patterns", "test_labels"):
            if getattr(dataset, key) is not None:
                arrays[key] = getattr(dataset, key)
    return arrays, attrs, {k: _DATA_DESCRIPTIONS[k] for k in arrays}


def _flatten(state, prefix=""):
    """Nested dict -> flat ``{"a/b": value}`` (the checkpoint file's layout)."""
    out = {}
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not key.endswith("rng_state"):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = value
    return out


def _unflatten(flat):
    out = {}
    for name, value in flat.items():
        node = out
        *parents, leaf = name.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


@contextlib.contextmanager
def _stop_on_signals(ctx):
    """SIGINT/SIGTERM ask the learner to checkpoint and stop at its next safe point
    (a second SIGINT interrupts at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if ctx.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        ctx.request_stop(name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run(
    spec: RunSpec,
    out=None,
    *,
    force: bool = False,
    progress: bool = False,
    checkpoint_seconds: float = 5.0,
    command_line: str | None = None,
):
    """Generate the data of ``spec``, run its learner and store everything.

    Parameters
    ----------
    spec : RunSpec
        The run configuration (validated on construction).
    out : path-like, optional
        Output file ``F.h5`` (default :func:`default_out_path`). Written as
        ``F.h5.partial`` and renamed when complete. An existing complete file is
        refused unless ``force``.
    force : bool
        Replace an existing run file (or ``.partial``) at completion.
    progress : bool
        Progress bar on stderr.
    checkpoint_seconds : float
        The learner state is saved (``F.h5.ckpt``) this often, and on SIGINT/SIGTERM;
        ``wfm run --resume F.h5`` continues from it.
    command_line : str, optional
        Recorded in the file (default: ``sys.argv``).

    Returns
    -------
    StoredRun
    """
    if not isinstance(spec, RunSpec):
        raise TypeError(f"spec must be a RunSpec, got {type(spec).__name__}")
    info = spec.learner.info
    from wfm.backends import check_devices, families_for

    families = families_for(info.kernels, spec.model.arch)
    check_devices(spec.device, families, f"learner {info.name!r} on {spec.model.name}")
    _check_memory(spec)
    out = Path(out) if out is not None else default_out_path(spec)
    writer = store.RunWriter(
        out, config=spec.to_dict(), root_attrs=_root_attrs(spec, command_line),
        force=force, trace_fields=_trace_fields(info),
    )  # fmt: skip
    with writer:
        return _execute(spec, writer, None, progress, checkpoint_seconds, out)


def resume(path, *, progress: bool = False, checkpoint_seconds: float = 5.0):
    """Continue an interrupted run from its checkpoint.

    ``path`` is the run's ``F.h5`` (or ``F.h5.partial``). The final file has the same
    data, trace and solution as an uninterrupted run of the same spec (its
    ``command_line`` stays the original one; ``resumed`` counts the resumptions).
    """
    path = Path(path)
    if path.name.endswith(".partial"):
        path = path.with_name(path.name[: -len(".partial")])
    writer, state, config = store.RunWriter.resume(path)
    with writer:
        spec = RunSpec.from_dict(config)
        return _execute(
            spec, writer, _unflatten(state), progress, checkpoint_seconds, path
        )


def _execute(spec, writer, resumed, progress, checkpoint_seconds, out):
    from wfm.data import generate_for
    from wfm.learners import Problem, RunContext

    info = spec.learner.info
    dataset = generate_for(spec, stream(spec.seed, "data"))
    if resumed is None or getattr(writer, "needs_data", False):
        writer.write_data(*_data_arrays(spec, dataset))
    elapsed0 = 0.0 if resumed is None else float(resumed["api"]["elapsed"])
    t0 = time.perf_counter()

    def save(learner_state):
        api = {"elapsed": elapsed0 + time.perf_counter() - t0}
        writer.checkpoint(_flatten({"learner": learner_state, "api": api}))

    ctx = RunContext(
        seed=spec.seed, trace_sink=writer.append_trace, checkpoint_sink=save,
        checkpoint_seconds=checkpoint_seconds,
        resumed=None if resumed is None else resumed["learner"],
        progress=progress, device=spec.device,
    )  # fmt: skip
    problem = Problem(
        dataset.patterns, dataset.labels, spec.model.arch, spec.model.kappa,
        dataset.test_patterns, dataset.test_labels,
    )  # fmt: skip
    module = info.load()
    try:
        with _stop_on_signals(ctx):
            result = module.learn(problem, dict(spec.learner.params), ctx)
    except RunInterrupted as exc:
        raise RunInterrupted(
            f"{exc}; checkpoint saved, continue with: wfm run --resume {out}"
        ) from None
    wall = elapsed0 + time.perf_counter() - t0
    # the stored error count is the numpy reference's, whatever the learner says
    errors = train_errors(spec.model, result.weights, dataset.patterns, dataset.labels)
    if errors != result.train_errors:
        warnings.warn(
            f"learner {info.name} reported {result.train_errors} training errors, "
            f"the reference count is {errors}; storing {errors}",
            RuntimeWarning,
            stacklevel=3,
        )
    solved = bool(result.converged) and (info.goal != "solution" or errors == 0)
    attrs = {
        "learner": info.name,
        "goal": info.goal,
        "solved": solved,
        "train_errors": int(errors),
        "converged": bool(result.converged),
        "iterations": int(result.iterations),
        "wall_time_s": float(wall),
        **{k: _attr(v) for k, v in result.attrs.items()},
    }
    writer.write_solution(
        {"weights": np.asarray(result.weights)}, attrs, dict(_SOLUTION_DESCRIPTIONS)
    )
    path = writer.complete()
    return open_run(path)


def _attr(value):
    if value is None:
        return "none"
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim else value.item()
    return value


def _check_memory(spec):
    """Refuse a run that cannot fit in memory, before writing anything: the patterns
    (int8 or float32) and the learner's per-edge state (BP: two float64 messages and
    the int8 signed patterns per pattern-weight pair)."""
    import os

    p, n = spec.n_patterns, spec.model.n_weights
    pattern_bytes = {"random": 1, "teacher": 1, "hashed": 0}.get(spec.data.kind, 4)
    need = p * spec.model.n * pattern_bytes * 2  # generated + stored copy
    need += p * n * spec.learner.info.bytes_per_edge + 64 * (p + n)
    try:
        avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on every platform
        return
    if need > 0.8 * avail:
        raise ConfigError(
            f"this run needs about {need / 2**30:.1f} GiB (P = {p} patterns x {n} "
            f"weights, learner {spec.learner.name}), {avail / 2**30:.1f} GiB are "
            "available; lower model.n or data.alpha, or use a machine with more "
            "memory"
        )


# ---------------------------------------------------------------- measures
def local_entropy_of_run(
    path,
    *,
    method: str = "bp",
    reference: str = "solution",
    name: str | None = None,
    distances=None,
    lambdas=None,
    progress: bool = False,
    allow_errors: bool = False,
    device: str = "cpu",
    **bp_params,
):
    """Measure the local entropy of a stored run's reference and append the curve.

    Parameters
    ----------
    path : path-like
        A complete run file.
    method : {"bp", "exact", "amp"}
        ``amp``: the BP scan in AMP form (binary perceptron; large N, and runs
        with ``data.kind = "hashed"``).
    reference : {"solution", "teacher"}
        The learner's solution, or the teacher of teacher–student data.
    name : str, optional
        Group name under ``/local_entropy/`` (default: the reference, ``_exact`` or
        ``_amp`` appended for those methods).
    distances, lambdas : array_like, optional
        See :func:`wfm.measures.local_entropy.local_entropy`.
    progress : bool
    allow_errors : bool
        Measure a reference with training errors (refused otherwise: it is no
        solution, and its "local entropy" is not the paper's quantity). The curve is
        marked (``reference_train_errors``) and plots flag it.
    device : {"cpu", "cuda"}
        Where the kernels of the measure run.
    **bp_params
        BP settings of the measure.

    Returns
    -------
    group : str
    result : LocalEntropyResult
    """
    from wfm.measures.local_entropy import local_entropy

    if reference not in REFERENCES:
        raise ConfigError(
            f"reference must be one of {', '.join(REFERENCES)}; got {reference!r}"
        )
    store.validate_run(path)  # corrupt or incomplete: refuse before the work
    run = open_run(path)
    spec = run.config
    if spec is None or "solution" not in run.groups:
        raise ConfigError(f"{path} has no /solution to measure")
    methods = spec.model.info.local_entropy_methods
    if method not in methods:
        raise ConfigError(
            f"method must be one of {', '.join(methods)} for model "
            f"{spec.model.name}; got {method!r}"
        )
    if reference == "teacher":
        ref = run.teacher
        if ref is None:
            raise ConfigError(
                f"{path} has no teacher (data.kind is not 'teacher'); use "
                "--reference solution"
            )
    else:
        ref = run.weights
    from wfm.backends import check_devices, families_for
    from wfm.measures.local_entropy import METHOD_KERNELS

    families = families_for((METHOD_KERNELS[method],), spec.model.arch)
    check_devices(device, families, f"local-entropy method {method!r}")
    patterns = run.patterns
    if method != "amp" and not isinstance(patterns, np.ndarray):
        patterns = patterns.to_int8()  # hashed data, measured by BP: materialise
    errors = train_errors(spec.model, ref, patterns, run.labels)
    if errors and not allow_errors:
        raise ConfigError(
            f"the {reference} of {path} has {errors} training errors: it is not a "
            "solution, so its local entropy is not defined; pass --allow-errors to "
            "measure it anyway (the curve is then marked)"
        )
    try:
        result = local_entropy(
            patterns, run.labels, ref, arch=spec.model.arch,
            kappa=spec.model.kappa, method=method, distances=distances,
            lambdas=lambdas, rng=stream(spec.seed, "local_entropy"),
            progress=progress, device=device, **bp_params,
        )  # fmt: skip
    except ValueError as exc:  # measures validate their input with ValueError
        raise ConfigError(str(exc)) from None
    name = name or (reference if method == "bp" else f"{reference}_{method}")
    group = f"/local_entropy/{name}"
    attrs = {
        **result.attrs(),
        "reference": reference,
        "name": name,
        "reference_train_errors": int(errors),
        "learner": spec.learner.name,
        "model": spec.model.name,
        "data_kind": spec.data.kind,
        "stream": "local_entropy",
    }
    store.append_group(path, group, result.to_arrays(), attrs, result.descriptions())
    return group, result


# -------------------------------------------------------- flatness measures
#: default perturbation sizes of ``wfm local-energy``: relative Gaussian noise for
#: continuous weights, flipped fractions for binary ones
LOCAL_ENERGY_SIGMAS = {
    "gaussian": (0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
    "flip": (0.002, 0.005, 0.01, 0.02, 0.05, 0.1),
}

#: default loss of the Hessian and local-energy measures (a fixed loss, the same for
#: every run, so that minimisers of different learners are compared on one landscape)
MEASURE_LOSS = {"loss": "ce", "gamma": 1.0, "kappa": 0.0}


def _measured_net(path, *, what, loss=None, gamma=None, kappa=None, activation=None):
    """The stored minimiser as the kernels see it, and the loss it is measured on.

    Returns ``(run, spec, weights in kernel shape, patterns, labels, net options,
    loss options)``; ConfigError for a file without a solution.
    """
    store.validate_run(path)
    run = open_run(path)
    spec = run.config
    if spec is None or "solution" not in run.groups:
        raise ConfigError(f"{path} has no /solution to measure ({what})")
    arch = spec.model.arch
    w = np.asarray(run.weights, dtype=np.float64)
    n_inputs = spec.model.n
    if arch.hidden:
        w = w.reshape(arch.k, arch.fan_in(n_inputs))
    x = np.asarray(run.patterns)
    if x.dtype != np.int8:
        x = x.astype(np.float64)
    params = spec.learner.params
    if activation is None:
        activation = params.get("activation", "tanh") if arch.hidden else "linear"
    if not arch.hidden and activation != "linear":
        raise ConfigError(
            f"activation must be linear for a perceptron, got {activation!r}"
        )
    net = {"fully_connected": arch.fully_connected, "activation": activation}
    lopts = {
        "loss": loss or MEASURE_LOSS["loss"],
        "gamma": MEASURE_LOSS["gamma"] if gamma is None else float(gamma),
        "kappa": spec.model.kappa if kappa is None else float(kappa),
    }
    return run, spec, w, x, np.asarray(run.labels, dtype=np.float64), net, lopts


def hessian_of_run(
    path,
    *,
    top: int | None = 20,
    trace: bool = False,
    density: bool = False,
    exact: bool = False,
    loss: str | None = None,
    gamma: float | None = None,
    kappa: float | None = None,
    activation: str | None = None,
    relax_binary: bool = False,
    probes: int = 100,
    slq_probes: int = 10,
    slq_steps: int = 80,
    tol: float = 0.0,
    progress: bool = False,
):
    """Hessian spectrum measures of a stored minimiser; appends ``/hessian``.

    The Hessian is that of the mean training loss (default ``ce`` at ``gamma = 1``,
    :data:`MEASURE_LOSS`, the same for every run) of the model's network with plain
    fields ``W . xi / sqrt(n)`` and the committee activation of the run's learner
    (``tanh`` if it has none), at the stored weights (:mod:`wfm.kernels.hessian`).

    Parameters
    ----------
    path : path-like
        A complete run file with a solution.
    top : int or None
        Number of largest eigenvalues by Lanczos (``>= 1``, fewer than the
        parameters); ``None``: none.
    trace : bool
        Hutchinson trace with ``probes`` Rademacher probes and its standard error.
    density : bool
        Spectral density by stochastic Lanczos quadrature (``slq_probes`` probes of
        ``slq_steps`` steps).
    exact : bool
        The full spectrum by ``eigh`` (at most
        :data:`wfm.measures.hessian.EXACT_MAX_PARAMS` parameters).
    loss, gamma, kappa, activation
        The measured loss (default :data:`MEASURE_LOSS`, the model's ``kappa`` and
        the learner's activation).
    relax_binary : bool
        Binary-weight runs are refused unless this is set: their Hessian is the one
        of the continuous relaxation at ``W = ±1`` (the landscape a straight-through
        gradient descends), not a property of the binary minimiser itself.
    tol : float
        Lanczos tolerance (0: machine precision).
    progress : bool

    Returns
    -------
    group : str
        ``"/hessian"``.
    results : dict
        ``"top"``, ``"trace"``, ``"density"``, ``"exact"`` (result objects of
        :mod:`wfm.measures.hessian`, present when asked) and ``"attrs"``.
    """
    from wfm.backends import kernels
    from wfm.measures import hessian as mh

    if top is not None and (int(top) != top or top < 1):
        raise ConfigError(f"top must be an integer >= 1, got {top}")
    if not (top or trace or density or exact):
        raise ConfigError(
            "nothing to measure: ask for --top, --trace, --density or --exact"
        )
    run, spec, w, x, labels, net, lopts = _measured_net(
        path, what="hessian", loss=loss, gamma=gamma, kappa=kappa,
        activation=activation,
    )  # fmt: skip
    info = spec.model.info
    if not info.hessian:
        raise ConfigError(
            f"model {info.name} has no Hessian-vector products (supported: "
            f"{', '.join(n for n, m in _models().items() if m.hessian)})"
        )
    if info.binary and not relax_binary:
        raise ConfigError(
            f"{path} holds binary weights ({info.name}, learner "
            f"{spec.learner.name}): a Hessian is defined only for the continuous "
            "relaxation at W = ±1; pass --relax-binary to measure that"
        )
    hk = kernels("hessian", "cpu")  # one device: the measure is cheap next to a run
    parallel = x.shape[0] * w.size >= 1 << 21  # threads only pay on big problems
    try:
        point = hk.hvp_point(w, x, labels, **net, **lopts, parallel=parallel)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    n = point.n_params
    if top is not None and top >= n:
        raise ConfigError(
            f"top must be < the number of parameters ({n}), got {top}; use --exact"
        )
    if exact and n > mh.EXACT_MAX_PARAMS:
        raise ConfigError(
            f"--exact needs at most {mh.EXACT_MAX_PARAMS} parameters, this net has {n}"
        )
    shape = point.shape
    out = np.empty(shape)

    def matvec(v):
        return hk.hvp(point, v.reshape(shape), out).ravel().copy()

    sgd = kernels("sgd", "cpu")
    grad = np.empty(w.shape)
    loss_value = sgd.loss_and_grad(
        w, x, labels, grad, **net, **lopts, parallel=parallel
    )
    rng = stream(spec.seed, "hessian")
    arrays, desc, results = {}, {}, {}
    attrs = {
        **lopts,
        "activation": net["activation"],
        "fields": "plain, W . xi / sqrt(n) (ambient-space Hessian)",
        "relaxed_binary": bool(info.binary),
        "n_params": int(n),
        "loss_value": float(loss_value),
        "grad_norm": float(np.linalg.norm(grad)),
        "model": info.name,
        "learner": spec.learner.name,
        "stream": "hessian",
    }
    t0 = time.perf_counter()
    if exact:
        r = mh.exact_spectrum(matvec, n, progress=progress)
        results["exact"] = r
        arrays["eigenvalues"] = r.eigenvalues
        desc["eigenvalues"] = (
            "all Hessian eigenvalues, ascending (eigh)",
            "loss units",
        )
        attrs |= {"exact_top": r.top, "exact_trace": r.trace}
    if top is not None:
        r = mh.top_eigenvalues(matvec, n, int(top), tol=tol, rng=rng, progress=progress)
        results["top"] = r
        arrays["top_eigenvalues"] = r.eigenvalues
        arrays["top_residuals"] = r.residuals
        desc["top_eigenvalues"] = (
            "largest Hessian eigenvalues by Lanczos (eigsh over HVPs), descending",
            "loss units",
        )
        desc["top_residuals"] = ("|H u - lambda u| of each eigenpair", "loss units")
        attrs |= {
            "top_eigenvalue": float(r.eigenvalues[0]),
            "top_converged": r.converged,
            "top_matvecs": r.matvecs,
            "top_tol": tol,
        }
    if trace:
        r = mh.hutchinson_trace(matvec, n, probes=probes, rng=rng, progress=progress)
        results["trace"] = r
        arrays["trace_samples"] = r.samples
        desc["trace_samples"] = ("z^T H z of each Rademacher probe", "loss units")
        attrs |= {
            "trace": r.estimate,
            "trace_stderr": r.stderr,
            "trace_probes": r.probes,
        }
    if density:
        r = mh.slq_density(
            matvec, n, probes=slq_probes, steps=slq_steps, rng=rng, progress=progress
        )
        results["density"] = r
        arrays |= {
            "density_x": r.x, "density_y": r.density,
            "density_stderr": r.density_stderr, "slq_nodes": r.nodes,
            "slq_weights": r.weights,
        }  # fmt: skip
        desc |= {
            "density_x": ("eigenvalue grid of the density", "loss units"),
            "density_y": (
                "spectral density (SLQ, Gaussian kernel of width density_width), "
                "integrates to 1",
                "1/loss units",
            ),
            "density_stderr": (
                "standard error of density_y over probes",
                "1/loss units",
            ),
            "slq_nodes": (
                "Lanczos quadrature nodes per probe (NaN: breakdown)",
                "loss units",
            ),
            "slq_weights": ("quadrature weights per probe", "1"),
        }
        attrs |= {
            "density_width": r.width, "density_probes": r.probes,
            "density_steps": r.steps, "density_integral": r.integral,
        }  # fmt: skip
    attrs["wall_time_s"] = time.perf_counter() - t0
    results["attrs"] = attrs
    store.append_group(path, "/hessian", arrays, attrs, desc)
    return "/hessian", results


def _models():
    from wfm.models import MODELS

    return MODELS


def local_energy_of_run(
    path,
    sigmas=None,
    *,
    draws: int = 100,
    loss: str | None = None,
    gamma: float | None = None,
    activation: str | None = None,
    progress: bool = False,
):
    """Local energy ``delta E`` of a stored minimiser; appends ``/local_energy``.

    Continuous weights: multiplicative Gaussian noise of relative size ``sigma``;
    binary weights: flips of a random fraction ``p`` (``sigmas`` are then the
    fractions). Training errors by the model's own rule (the committee vote); the
    mean loss is the one of :func:`hessian_of_run`. Draws come from the run's
    ``local_energy`` stream (:func:`wfm.measures.local_energy.local_energy`).

    Returns
    -------
    group : str
    result : LocalEnergyResult
    """
    from wfm.backends import kernels
    from wfm.measures.local_energy import local_energy
    from wfm.models import nets

    run, spec, w, x, labels, net, lopts = _measured_net(
        path, what="local energy", loss=loss, gamma=gamma, activation=activation
    )
    arch = spec.model.arch
    mode = "flip" if arch.binary else "gaussian"
    if sigmas is None:
        sigmas = LOCAL_ENERGY_SIGMAS[mode]
    sgd = kernels("sgd", "cpu")
    info = spec.model.info
    stored_shape = np.shape(run.weights)
    p = x.shape[0]
    kappa = spec.model.kappa

    def error(v):  # the model's own rule (committee vote, parity product, ...)
        v = v.reshape(stored_shape)
        return info.train_errors(v, run.patterns, run.labels, arch, kappa) / p

    def mean_loss(v):
        out = sgd.forward(v, x, **net)
        return float(np.mean(nets.loss_values(labels * out, **lopts)))

    try:
        result = local_energy(
            w, error, sigmas, mode=mode, draws=draws,
            loss=mean_loss if info.hessian else None,
            rng=stream(spec.seed, "local_energy"), progress=progress,
        )  # fmt: skip
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    attrs = {
        **result.attrs(),
        **lopts,
        "activation": net["activation"],
        "model": spec.model.name,
        "learner": spec.learner.name,
        "stream": "local_energy",
    }
    store.append_group(
        path, "/local_energy", result.to_arrays(), attrs, result.descriptions()
    )
    return "/local_energy", result


def _test_rng(seed):
    """Generator of fresh test patterns: the child ``(data, 1)`` of the run's data
    stream, so the test set comes from the training data's ensemble, is fixed by the
    seed, and does not depend on the list of named streams (:mod:`wfm.rng`)."""
    from wfm.rng import stream_keys

    key = (*stream_keys()["data"], 1)
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def generalisation_error_of_run(path, n_test: int = 10000) -> float:
    """Generalisation error of a stored teacher–student minimiser: the fraction of
    ``n_test`` fresh patterns (:func:`_test_rng`) on which it disagrees with
    the stored teacher; NaN for data without a teacher."""
    from wfm.data import random_patterns

    run = open_run(path)
    spec = run.config
    if spec is None or "solution" not in run.groups:
        raise ConfigError(f"{path} has no /solution to test")
    teacher = run.teacher
    if teacher is None:
        return float("nan")
    info, arch = spec.model.info, spec.model.arch
    xt = random_patterns(_test_rng(spec.seed), int(n_test), spec.model.n)
    yt = info.output(teacher, xt, arch)
    return info.train_errors(run.weights, xt, yt, arch, 0.0) / int(n_test)


def analyze_flatness(
    paths,
    out_dir,
    *,
    distance: float = 0.02,
    sigma: float | None = None,
    n_test: int = 10000,
    bootstrap: int = 1000,
    seed: int = 0,
):
    """Flatness table, rank correlations and scatter plots of stored minimisers.

    For every run: test error (teacher–student data,
    :func:`generalisation_error_of_run`), local entropy ``S(d)/H2(d)`` at
    ``distance`` (from ``/local_entropy/solution`` if measured), local energy
    ``delta E`` at ``sigma`` (from ``/local_energy``; default its middle size), top
    Hessian eigenvalue and trace (from ``/hessian``).
    Writes ``flatness.csv`` (one row a run), ``correlations.csv`` (Spearman rank
    correlation of every pair of columns, with the bootstrap standard error and 68 %
    interval over runs) and ``flatness.png`` (each measure against the test error).

    Returns
    -------
    dict
        ``rows``, ``correlations`` and the written ``files``.
    """
    from wfm import flatness

    rows = []
    for path in paths:
        rows.append(
            flatness.row_of_run(
                open_run(path),
                generalisation_error_of_run(path, n_test),
                distance=distance,
                sigma=sigma,
                n_test=n_test,
            )
        )
    if len(rows) < 3:
        raise ConfigError(f"analyze flatness needs at least 3 runs, got {len(rows)}")
    corr = flatness.rank_correlations(rows, bootstrap=bootstrap, seed=seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = flatness.write_outputs(rows, corr, out_dir)
    return {"rows": rows, "correlations": corr, "files": [str(f) for f in files]}


# ------------------------------------------------------------------ theory
def theory_result(
    quantity: str,
    model: str | None = None,
    alpha: float | None = None,
    kappa: float = 0.0,
    kind: str = "typical",
    distances=None,
    progress: bool = False,
    k: int | None = None,
) -> tuple[str, dict, dict, dict]:
    """Compute a :mod:`wfm.theory` quantity as (group name, arrays, attrs,
    descriptions).

    Parameters
    ----------
    quantity : {"entropy", "local-entropy", "capacity"}
    model : str, optional
        A registered model (default the binary perceptron).
    alpha : float
        Load (not used for ``capacity``).
    kappa : float
    kind : {"typical", "large-deviation", "teacher"}
        For ``local-entropy``: typical solutions of the storage problem
        (Franz–Parisi), the densest regions (large deviation), or the teacher of a
        teacher–student instance.
    distances : array_like, optional
        For ``local-entropy``; default 30 points in ``[0.005, 0.3]`` (12 for the
        large-deviation solver).
    progress : bool
    k : int, optional
        Hidden units of a tree committee / parity machine (entropy and capacity).
    """
    from wfm import theory
    from wfm.models import DEFAULT_MODEL, get_model

    model = model or DEFAULT_MODEL
    info = get_model(model)
    tag = "" if model == DEFAULT_MODEL else "_" + model.replace("-", "_")
    if k is not None:
        tag += f"_k{k:g}"
    try:
        if quantity == "capacity":
            value = theory.capacity(model=model, kappa=kappa, k=k)
            attrs = {"kind": "capacity", "model": model, "kappa": kappa, "value": value}
            if k is not None:
                attrs["k"] = k
            return f"capacity{tag}_kappa{kappa:g}", {}, attrs, {}
        if alpha is None:
            raise ConfigError(f"theory {quantity} needs --alpha")
        if quantity == "entropy":
            r = theory.gardner_entropy(alpha, kappa=kappa, model=model, k=k)
            return f"entropy{tag}_alpha{alpha:g}_kappa{kappa:g}", {}, r.attrs(), {}
        if k is not None or info.hidden:
            raise ConfigError(
                "theory local-entropy is the perceptron's only (machines: entropy "
                "and capacity)"
            )
        if quantity != "local-entropy":
            raise ConfigError(
                "theory quantity must be one of entropy, local-entropy, capacity; "
                f"got {quantity!r}"
            )
        if distances is None:
            distances = np.linspace(0.005, 0.3, 12 if kind == "large-deviation" else 30)
        if kind == "typical":
            curve = theory.local_entropy_typical(alpha, distances, kappa, model)
        elif kind == "large-deviation":
            curve = theory.local_entropy_large_deviation(
                alpha, distances, kappa, model, progress=progress
            )
        elif kind == "teacher":
            if kappa != 0.0 or info.hidden or not info.binary:
                raise ConfigError(
                    "kind teacher is the binary perceptron at kappa = 0 only"
                )
            curve = theory.local_entropy_teacher(alpha, distances, progress=progress)
        else:
            raise ConfigError(
                f"kind must be one of typical, large-deviation, teacher; got {kind!r}"
            )
    except ValueError as exc:  # theory validates its input with ValueError
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from None
    name = f"local_entropy_{kind}{tag}_alpha{alpha:g}_kappa{kappa:g}"
    return name, curve.to_arrays(), curve.attrs(), curve.descriptions()


def store_theory(path, name, arrays, attrs, descriptions=None):
    """Write a theory result under ``/theory/<name>`` of ``path`` (created if
    missing)."""
    return store.append_group(
        path, f"/theory/{name}", arrays, attrs, descriptions or {}, create=True
    )


# -------------------------------------------------------------------- plots
def plot_local_entropy(paths_or_results, out, **kwargs):
    """Local-entropy curves with H₂(d); see :func:`wfm.plot.plot_local_entropy`."""
    from wfm.plot import plot_local_entropy as _plot

    return _plot(paths_or_results, out, **kwargs)


# --------------------------------------------------------------- quickstart
def quickstart(out_dir="wfm-out", *, progress=False, force=True) -> dict:
    """The README's end-to-end demo: fBP on a random binary perceptron (N = 1001,
    alpha = 0.6), the local entropy of its solution, and the plot.

    Returns
    -------
    dict
        Summary (numbers and paths).
    """
    from wfm.config import DataSpec, LearnerSpec, ModelSpec
    from wfm.measures.local_entropy import default_lambdas

    spec = RunSpec(
        model=ModelSpec(n=1001), data=DataSpec("random", alpha=0.6),
        learner=LearnerSpec("fbp"), seed=0,
    )  # fmt: skip
    path = Path(out_dir) / "quickstart.h5"
    stored = run(spec, out=path, progress=progress, force=force)
    sol = stored.solution.attrs
    _, le = local_entropy_of_run(
        path, lambdas=default_lambdas(16, d_min=2e-3), derivative_step=0.0,
        progress=progress,
    )  # fmt: skip
    png = plot_local_entropy(path, path.with_suffix(".png"))
    at = le.at([0.01, 0.05])
    ratio = at.local_entropy / at.upper_bound
    return {
        "n": spec.model.n,
        "alpha": spec.data.alpha,
        "n_patterns": spec.n_patterns,
        "learner": spec.learner.name,
        "seed": spec.seed,
        "iterations": sol["iterations"],
        "train_errors": sol["train_errors"],
        "solved": sol["solved"],
        "wall_time_s": sol["wall_time_s"],
        "path": str(path),
        "plot": str(png),
        "local_entropy": {
            "distance": le.distance,
            "local_entropy": le.local_entropy,
            "converged": le.converged,
        },  # fmt: skip
        "ratio_d0.01": float(ratio[0]),
        "ratio_d0.05": float(ratio[1]),
    }


# -------------------------------------------------------------------- bench
def benchmark(kernel: str, device: str = "cpu", **options) -> tuple[dict, str]:
    """Run benchmark ``kernel`` of :mod:`wfm.bench` on ``device``; returns (result,
    text table). ``device="cuda"``: the GPU kernels against the CPU's, one run."""
    import importlib

    from wfm.backends import check_devices

    check_devices(device, (), "wfm bench")
    _bench = importlib.import_module("wfm.bench")
    table = _bench.CUDA_BENCHMARKS if device == "cuda" else _bench.BENCHMARKS
    if kernel not in table:
        raise ConfigError(
            f"bench kernel on {device} must be one of {', '.join(table)}; "
            f"got {kernel!r}"
        )
    fn, fmt = table[kernel]
    try:
        result = fn(**options)
    except ValueError as exc:
        raise ConfigError(f"bench {kernel}: {exc}") from None
    return result, fmt(result)


def show(path) -> dict:
    """Plain-data summary of a run file (what ``wfm show`` prints)."""
    return open_run(path).summary()


def load_spec(config=None, overrides=()) -> RunSpec:
    """A :class:`RunSpec` from a TOML file (optional) and ``key=value`` overrides."""
    from wfm.config import apply_overrides, load_toml

    table = load_toml(config) if config else {}
    return RunSpec.from_dict(apply_overrides(table, overrides))


def describe_learners(name: str | None = None, model: str | None = None) -> list:
    """The learner registry as plain data: name, description, goal, models, and each
    parameter's type, default (for ``model`` if given), constraint and doc."""
    from wfm.learners import LEARNERS, get_learner
    from wfm.models import MODELS, get_model

    names = [name] if name else list(LEARNERS)
    info_model = get_model(model) if model else None
    out = []
    for n in names:
        info = get_learner(n)
        out.append(
            {
                "name": info.name,
                "description": info.description,
                "goal": info.goal,
                "models": [m for m, mi in MODELS.items() if n in mi.learners],
                "params": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "default": p.default_for(info_model),
                        "constraint": p.constraint_text,
                        "doc": p.doc,
                    }
                    for p in info.params
                ],
            }
        )
    return out
