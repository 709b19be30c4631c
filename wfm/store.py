"""The HDF5 run format: one file per run (design.md), written by :class:`RunWriter`.

Layout (``format_version = 1``)::

    /                      attrs: format_version, wfm_version, created, git_commit (if
                                  any), numpy_version, numba_version, h5py_version,
                                  config (JSON of the RunSpec), seed, status
                                  (running | complete | failed)
    /data/                 patterns (P, N) int8 or float32, labels (P,) int8, teacher
                           (N,) int8 for teacher-student data; attrs: kind, seed,
                           stream ("data": SeedSequence(seed).spawn(2)[0]), stored.
                           With store_data = false only the attrs are written.
    /solution/             weights (N,) int8; attrs: train_errors, converged,
                           iterations, wall_time_s, learner, plus the learner's attrs
                           (e.g. free_entropy, bp_converged for plain BP)
    /trace/<key>           1-D float64 datasets (iteration, gamma, y, maxdiff, errors,
                           ...), chunked and resizable, appended while the run goes and
                           flushed every ``flush_every`` records or ``flush_seconds``
    /local_entropy/<name>/, /hessian/, /theory/<name>/
                           written later by :func:`append_group`

A run is written to ``F.h5.partial`` and renamed atomically to ``F.h5`` by
:meth:`RunWriter.complete`; a run killed mid-way leaves a readable ``.partial`` with
``status = "running"`` and the trace up to the last flush. Read files with
:func:`open_run`.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wfm.errors import RunFileError

__all__ = [
    "FORMAT_VERSION",
    "GroupData",
    "Run",
    "RunWriter",
    "append_group",
    "open_run",
    "partial_path",
    "provenance",
]

FORMAT_VERSION = 1
_RUN_GROUPS = ("data", "solution", "trace")


def partial_path(path) -> Path:
    """``F.h5`` -> ``F.h5.partial``, where a run is written until complete."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def _git_commit() -> str | None:
    """Commit of the wfm checkout, if wfm runs from a git work tree; never raises."""
    try:
        root = Path(__file__).resolve().parent.parent
        if not (root / ".git").exists():
            return None
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        commit = out.stdout.strip()
        if out.returncode != 0 or not commit:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit + ("-dirty" if dirty.stdout.strip() else "")
    except Exception:  # provenance must never break a run
        return None


def provenance() -> dict:
    """Version and origin attributes written on the root of every file."""
    import h5py
    import numba

    import wfm

    out = {
        "format_version": FORMAT_VERSION,
        "wfm_version": wfm.__version__,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "numpy_version": np.__version__,
        "numba_version": numba.__version__,
        "h5py_version": h5py.__version__,
    }
    commit = _git_commit()
    if commit:
        out["git_commit"] = commit
    return out


def _attr_value(value):
    """An HDF5-storable version of a scalar attribute (None -> "none")."""
    if value is None:
        return "none"
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return value


def _plain(value):
    """HDF5 attribute -> plain Python (for JSON and printing)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# ----------------------------------------------------------------------- writer
class RunWriter:
    """Writes one run file; lazily creates ``F.h5.partial`` on the first write.

    Parameters
    ----------
    path : path-like
        Final path ``F.h5``.
    spec : RunSpec
        Stored as the ``config`` attribute (JSON).
    flush_every : int
        Trace records buffered before they are written and flushed.
    flush_seconds : float
        Also write and flush when this much time passed since the last flush.

    Examples
    --------
    >>> with RunWriter("x.h5", spec) as w:          # doctest: +SKIP
    ...     w.write_data(dataset)
    ...     w.append_trace({"iteration": 1, "maxdiff": 0.3})
    ...     w.write_solution(result, wall_time_s=1.2)
    ...     w.complete()
    """

    def __init__(self, path, spec, *, flush_every=50, flush_seconds=2.0):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.spec = spec
        self.flush_every = int(flush_every)
        self.flush_seconds = float(flush_seconds)
        self._file = None
        self._buffer: dict[str, list] = {}
        self._pending = 0
        self._last_flush = time.monotonic()
        self._skipped: set[str] = set()
        self.completed = False

    # -- file handling
    @property
    def file(self):
        """The open ``h5py.File`` (created with the root attributes on first use)."""
        if self._file is None:
            import h5py

            self.partial.parent.mkdir(parents=True, exist_ok=True)
            f = h5py.File(self.partial, "w")
            for key, value in provenance().items():
                f.attrs[key] = value
            f.attrs["config"] = self.spec.to_json()
            f.attrs["seed"] = self.spec.seed
            f.attrs["status"] = "running"
            f.create_group("trace")
            f.flush()
            self._file = f
        return self._file

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self._file is not None:
            try:
                self._write_trace()
                self._file.attrs["status"] = "failed"
                self._file.attrs["error"] = f"{exc_type.__name__}: {exc}"
            finally:
                self.close()
        else:
            self.close()
        return False

    def close(self):
        """Write buffered trace records and close the file (no rename)."""
        if self._file is not None:
            self._write_trace()
            self._file.close()
            self._file = None

    # -- content
    def write_data(self, dataset):
        """Write ``/data`` from a :class:`wfm.data.Dataset` (or only its seed)."""
        g = self.file.create_group("data")
        g.attrs["kind"] = self.spec.data.kind
        g.attrs["seed"] = self.spec.seed
        g.attrs["stream"] = "data: SeedSequence(seed).spawn(2)[0]"
        g.attrs["stored"] = bool(self.spec.data.store_data)
        if self.spec.data.store_data:
            g.create_dataset("patterns", data=dataset.patterns, compression="gzip")
            g.create_dataset("labels", data=dataset.labels)
            if dataset.teacher is not None:
                g.create_dataset("teacher", data=dataset.teacher)
        self.file.flush()

    def append_trace(self, record: dict):
        """Append one record (a dict of scalars) to ``/trace``; non-numbers skipped."""
        for key, value in record.items():
            if isinstance(value, (bool, np.bool_)):
                value = float(value)
            try:
                value = float(value)
            except (TypeError, ValueError):
                if key not in self._skipped:
                    self._skipped.add(key)
                    warnings.warn(
                        f"trace value {key}={value!r} is not a number; not stored",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                continue
            self._buffer.setdefault(key, []).append(value)
        self._pending += 1
        now = time.monotonic()
        if (
            self._pending >= self.flush_every
            or now - self._last_flush >= self.flush_seconds
        ):
            self._write_trace()

    def _write_trace(self):
        if not self._pending and not any(self._buffer.values()):
            return
        trace = self.file["trace"]
        for key, values in self._buffer.items():
            if not values:
                continue
            if key not in trace:
                trace.create_dataset(
                    key, shape=(0,), maxshape=(None,), chunks=(1024,), dtype="f8"
                )
            ds = trace[key]
            start = ds.shape[0]
            ds.resize((start + len(values),))
            ds[start:] = np.asarray(values, dtype=np.float64)
            values.clear()
        self._pending = 0
        self._last_flush = time.monotonic()
        self.file.flush()

    def write_solution(self, result, wall_time_s: float, train_errors=None):
        """Write ``/solution`` from a :class:`wfm.learners.LearnerResult`."""
        g = self.file.create_group("solution")
        g.create_dataset("weights", data=np.asarray(result.weights))
        g.attrs["learner"] = self.spec.learner.name
        for key, value in result.attrs.items():
            g.attrs[key] = _attr_value(value)
        errors = result.train_errors if train_errors is None else train_errors
        g.attrs["train_errors"] = int(errors)
        g.attrs["converged"] = bool(result.converged)
        g.attrs["iterations"] = int(result.iterations)
        g.attrs["wall_time_s"] = float(wall_time_s)
        self.file.flush()

    def complete(self) -> Path:
        """Mark the run complete, close, and rename ``.partial`` -> final path."""
        self.file.attrs["status"] = "complete"
        self.close()
        os.replace(self.partial, self.path)
        self.completed = True
        return self.path


# ----------------------------------------------------------------------- reader
@dataclass
class GroupData:
    """The datasets (as arrays) and attributes of one HDF5 group."""

    name: str
    arrays: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.arrays[key]


def _open_h5(path):
    import h5py

    path = Path(path)
    if not path.exists():
        raise RunFileError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise RunFileError(
            f"{path}: not a readable wfm run file (truncated or not HDF5): {exc}"
        ) from None
    version = f.attrs.get("format_version")
    if version is None:
        f.close()
        raise RunFileError(f"{path}: not a wfm run file (no format_version attribute)")
    if int(version) != FORMAT_VERSION:
        f.close()
        import wfm

        raise RunFileError(
            f"{path}: format_version {int(version)} is not supported by wfm "
            f"{wfm.__version__} (reads format_version {FORMAT_VERSION})"
        )
    return f


def _read_group(g, name) -> GroupData:
    import h5py

    arrays = {}

    def visit(key, obj):
        if isinstance(obj, h5py.Dataset):
            arrays[key] = obj[()]

    g.visititems(visit)
    return GroupData(name, arrays, {k: _plain(v) for k, v in g.attrs.items()})


class Run:
    """A stored run, read with :func:`open_run`; arrays are read on access.

    Attributes
    ----------
    path : Path
    attrs : dict
        Root attributes (provenance, status, seed, config JSON).
    config : RunSpec or None
        ``None`` for files holding only theory/analysis groups.
    """

    def __init__(self, path):
        self.path = Path(path)
        with _open_h5(self.path) as f:
            self.attrs = {k: _plain(v) for k, v in f.attrs.items()}
            self.groups = sorted(f.keys())
        self._config = None
        self._cache = {}

    def __repr__(self):
        return f"Run({str(self.path)!r}, status={self.status!r})"

    @property
    def status(self) -> str:
        return self.attrs.get("status", "unknown")

    @property
    def config(self):
        """The :class:`~wfm.config.RunSpec` of the run (``None`` if absent)."""
        if self._config is None and "config" in self.attrs:
            from wfm.config import RunSpec

            self._config = RunSpec.from_json(self.attrs["config"])
        return self._config

    def group(self, name: str) -> GroupData:
        """Datasets and attributes of any group, e.g. ``"/theory/entropy"``."""
        key = name.strip("/")
        if key not in self._cache:
            with _open_h5(self.path) as f:
                if key not in f:
                    raise KeyError(f"{self.path} has no group /{key}")
                self._cache[key] = _read_group(f[key], "/" + key)
        return self._cache[key]

    def _data(self):
        if "data" in self.groups and self.group("data").attrs.get("stored", True):
            return self.group("data").arrays
        from wfm.data import generate_for

        if "regenerated" not in self._cache:
            d = generate_for(self.config)
            self._cache["regenerated"] = {
                "patterns": d.patterns,
                "labels": d.labels,
                **({"teacher": d.teacher} if d.teacher is not None else {}),
            }
        return self._cache["regenerated"]

    @property
    def patterns(self) -> np.ndarray:
        """``(P, N)`` patterns (regenerated from the seed if not stored)."""
        return self._data()["patterns"]

    @property
    def labels(self) -> np.ndarray:
        """``(P,)`` labels (regenerated from the seed if not stored)."""
        return self._data()["labels"]

    @property
    def teacher(self):
        """Teacher weights for teacher–student data, else ``None``."""
        return self._data().get("teacher")

    @property
    def solution(self) -> GroupData:
        """``/solution``: ``.arrays["weights"]``, ``.weights``, ``.attrs``."""
        return self.group("solution")

    @property
    def weights(self) -> np.ndarray:
        """Solution weights."""
        return self.solution.arrays["weights"]

    @property
    def trace(self) -> dict:
        """``/trace`` as a dict of 1-D arrays (empty if nothing was recorded)."""
        if "trace" not in self.groups:
            return {}
        return self.group("trace").arrays

    def extra_groups(self) -> list[str]:
        """Paths of the groups holding datasets beyond /data, /solution, /trace."""
        import h5py

        out = []
        with _open_h5(self.path) as f:

            def visit(key, obj):
                top = key.split("/")[0]
                if top in _RUN_GROUPS or not isinstance(obj, h5py.Group):
                    return
                if any(isinstance(v, h5py.Dataset) for v in obj.values()) or (
                    len(obj) == 0
                ):
                    out.append("/" + key)

            f.visititems(visit)
        return out

    def summary(self) -> dict:
        """Plain-data summary (config, provenance, result, trace, other groups)."""
        prov = {
            k: v
            for k, v in self.attrs.items()
            if k not in ("config", "format_version", "seed", "status")
        }
        out = {
            "path": str(self.path),
            "format_version": self.attrs.get("format_version"),
            "status": self.status,
            "seed": self.attrs.get("seed"),
            "config": json.loads(self.attrs["config"])
            if "config" in self.attrs
            else None,
            "provenance": prov,
        }
        if "solution" in self.groups:
            out["solution"] = dict(self.solution.attrs)
            out["solution"]["weights_shape"] = list(self.weights.shape)
        if "data" in self.groups:
            data = self.group("data")
            out["data"] = {
                **data.attrs,
                **{k: list(v.shape) for k, v in data.arrays.items()},
            }
        trace = self.trace
        out["trace"] = {
            "length": max((len(v) for v in trace.values()), default=0),
            "keys": sorted(trace),
        }
        if trace:
            out["trace"]["last"] = {k: float(v[-1]) for k, v in trace.items() if len(v)}
        groups = {}
        for name in self.extra_groups():
            g = self.group(name)
            groups[name] = {
                "attrs": g.attrs,
                "arrays": {k: list(v.shape) for k, v in g.arrays.items()},
            }
        out["groups"] = groups
        return out


def open_run(path) -> Run:
    """Open a run file (complete or ``.partial``) for reading.

    Raises
    ------
    RunFileError
        If the file is missing, truncated, not HDF5, not a wfm file, or of an
        unknown ``format_version``.
    """
    return Run(path)


def append_group(path, name: str, arrays: dict, attrs: dict | None = None) -> Path:
    """Write (or replace) group ``name`` of a run file, e.g. ``/theory/entropy``.

    The file is copied to ``F.h5.partial``, modified and renamed back, so a kill never
    leaves a half-written complete file. A missing file is created with provenance
    attributes only (``status = "complete"``, no config).

    Parameters
    ----------
    path : path-like
        Run file ``F.h5``.
    name : str
        Group path such as ``"/local_entropy/bp"``.
    arrays : dict
        Dataset name -> array.
    attrs : dict, optional
        Scalar attributes of the group (``None`` values stored as ``"none"``).
    """
    import h5py

    path = Path(path)
    tmp = partial_path(path)
    if path.exists():
        _open_h5(path).close()  # validate before touching it
        shutil.copy2(path, tmp)
        mode = "a"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "w"
    try:
        with h5py.File(tmp, mode) as f:
            if mode == "w":
                for key, value in provenance().items():
                    f.attrs[key] = value
                f.attrs["status"] = "complete"
            key = name.strip("/")
            if key in f:
                del f[key]
            g = f.create_group(key)
            for k, v in arrays.items():
                g.create_dataset(k, data=np.asarray(v))
            for k, v in (attrs or {}).items():
                g.attrs[k] = _attr_value(v)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path
