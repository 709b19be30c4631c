"""The HDF5 run format: one file per run (design.md), written so that no data is lost.

Layout (``format_version = 2``)::

    /                      attrs: format_version, wfm_version, git_commit ("unknown"
                                  when not known), created (UTC ISO), python_version,
                                  numpy_version, scipy_version, numba_version,
                                  h5py_version, config (JSON of the resolved run spec),
                                  the caller's root attrs (seed, streams, command_line,
                                  ...), status (running | complete | failed |
                                  interrupted), error (when failed/interrupted),
                                  resumed (number of resumes, when resumed)
    /data/                 patterns, labels, teacher ... as given by the caller; attrs
                           as given (e.g. stored = false with only the data seed)
    /solution/             weights ...; attrs: train_errors, converged, learner, ...
    /trace/<key>           1-D chunked, resizable datasets, one per declared trace
                           field, dtype int64, float64 or bool; all of one length,
                           the number of records (attr ``length`` of /trace)
    /local_entropy/<name>/, /hessian/, /theory/<name>/
                           written later by :func:`append_group`

Every dataset carries ``description`` and ``units`` attributes ("1" when
dimensionless) and, unless it is a scalar, a fletcher32 checksum (gzip above 4 KiB),
so damaged bytes are detected when read (:func:`validate_run`).

Files beside ``F.h5`` (all in the same folder)::

    F.h5.lock          flock held by the one process writing any of these files
    F.h5.partial       the run being written; renamed to F.h5 by RunWriter.complete
    F.h5.ckpt          last checkpoint (written to F.h5.ckpt.tmp, fsync, rename):
                       attrs format_version, kind = "checkpoint", created,
                       trace_length, state (JSON; arrays replaced by
                       {"__ndarray__": name}), run_attrs (JSON of the root attrs);
                       /state/<name> arrays; /trace/<key> the whole trace so far
    F.h5.append.tmp    copy being modified by append_group, renamed onto F.h5

A process killed at any moment leaves ``F.h5`` as it was (absent, or the previous
complete file) plus, for a run, a ``.partial`` and a ``.ckpt`` from which
:meth:`RunWriter.resume` continues. Format-1 files stay readable by :func:`open_run`.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from wfm._version import __version__
from wfm.errors import (
    RunCorruptError,
    RunExistsError,
    RunFileError,
    RunIncompleteError,
    RunInterrupted,
    RunLockedError,
)

__all__ = [
    "FORMAT_VERSION",
    "READABLE_FORMAT_VERSIONS",
    "STATUSES",
    "TRACE_DTYPES",
    "GroupData",
    "Run",
    "RunLock",
    "RunWriter",
    "append_group",
    "checkpoint_path",
    "git_commit",
    "lock",
    "lock_path",
    "open_run",
    "partial_path",
    "provenance",
    "read_attrs",
    "validate_run",
]

FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
STATUSES = ("running", "complete", "failed", "interrupted")
TRACE_DTYPES = {"int64": np.int64, "float64": np.float64, "bool": np.bool_}
PROVENANCE_KEYS = (
    "format_version",
    "wfm_version",
    "git_commit",
    "created",
    "python_version",
    "numpy_version",
    "scipy_version",
    "numba_version",
    "h5py_version",
)
_RUN_GROUPS = ("data", "solution", "trace")
# format 1 wrote the local-entropy curves with short names; format 2 uses these
_FORMAT1_LOCAL_ENTROPY_NAMES = {
    "d": "distance",
    "s": "local_entropy",
    "lambda": "coupling",
    "q": "overlap",
    "q_derivative": "overlap_derivative",
}
_COMPRESS_ABOVE_BYTES = 4096
_CHUNK_BYTES = 2**20  # target size of a dataset chunk
_TRACE_CHUNK = 1024  # records per chunk of a /trace dataset
_MAX_BUFFERED_RECORDS = 65536  # flush earlier than flush_seconds past this
_VERIFY_WHOLE_BYTES = 64 * 2**20  # validate_run reads larger datasets chunk by chunk
_SPACE_MARGIN = 2**20  # HDF5 metadata beyond the raw bytes of a write
_ARRAY_KEY = "__ndarray__"


# ------------------------------------------------------------------------ paths
def _sidecar(path, suffix: str) -> Path:
    path = Path(path)
    return path.with_name(path.name + suffix)


def partial_path(path) -> Path:
    """``F.h5`` -> ``F.h5.partial``, where a run is written until complete."""
    return _sidecar(path, ".partial")


def checkpoint_path(path) -> Path:
    """``F.h5`` -> ``F.h5.ckpt``, the last checkpoint of an unfinished run."""
    return _sidecar(path, ".ckpt")


def lock_path(path) -> Path:
    """``F.h5`` -> ``F.h5.lock``, locked by the process writing ``F.h5``."""
    return _sidecar(path, ".lock")


def _final_path(path) -> Path:
    """``F.h5.partial`` -> ``F.h5``; other paths unchanged."""
    path = Path(path)
    if path.name.endswith(".partial"):
        return path.with_name(path.name[: -len(".partial")])
    return path


# ----------------------------------------------------------------------- errors
def _one_line(text) -> str:
    return " ".join(str(text).split())


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return _one_line(exc) or type(exc).__name__


@contextlib.contextmanager
def _io(path, doing: str):
    """Turn an OSError (or h5py's RuntimeError) into a one-line RunFileError."""
    try:
        yield
    except RunFileError:
        raise
    except (OSError, RuntimeError) as exc:  # h5py raises RuntimeError on a full disk
        raise RunFileError(
            f"cannot {doing} {path}: {_reason(exc)}; check the folder (free space, "
            "permissions) or choose another --out"
        ) from exc


@contextlib.contextmanager
def _reading(path, what: str):
    """Turn a failure to read part of a file into a one-line RunCorruptError."""
    try:
        yield
    except RunFileError:
        raise
    except (OSError, RuntimeError, ValueError) as exc:
        raise RunCorruptError(
            f"{path}: {what} is unreadable ({_reason(exc)}); the file is damaged: "
            "rerun with --force or restore it from a backup"
        ) from exc


# ------------------------------------------------------------------- provenance
def git_commit() -> str:
    """Commit wfm was built or runs from; ``"unknown"`` if not known. Never raises.

    An installed wfm reads ``wfm._build_info.GIT_COMMIT`` (written by setup.py at
    build time); a wfm running from a git work tree asks git (``-dirty`` appended when
    tracked files are modified).
    """
    try:
        from wfm._build_info import GIT_COMMIT

        if isinstance(GIT_COMMIT, str) and GIT_COMMIT.strip():
            return GIT_COMMIT.strip()
    except Exception:  # no build info: a source checkout
        pass
    try:
        root = Path(__file__).resolve().parent.parent
        if not (root / ".git").exists():
            return "unknown"
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # never write the index
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
        )
        commit = out.stdout.strip()
        if out.returncode != 0 or not commit:
            return "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
        )
        return commit + ("-dirty" if dirty.stdout.strip() else "")
    except Exception:  # provenance must never break a run
        return "unknown"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except Exception:
        return "unknown"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def provenance() -> dict:
    """Version and origin attributes written on the root of every file."""
    import h5py

    return {
        "format_version": FORMAT_VERSION,
        "wfm_version": __version__,
        "git_commit": git_commit(),
        "created": _now(),
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "scipy_version": _package_version("scipy"),
        "numba_version": _package_version("numba"),  # without importing numba
        "h5py_version": h5py.__version__,
    }


# ---------------------------------------------------------------- small helpers
def _attr_value(value):
    """An HDF5-storable version of an attribute (None -> "none", dict -> JSON)."""
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


def _write_attrs(obj, attrs: dict):
    for key, value in attrs.items():
        obj.attrs[key] = _attr_value(value)


def _fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder):
    """Make a rename in ``folder`` durable (best effort: not every FS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _require_space(path, nbytes: int, doing: str):
    """RunFileError unless ``path`` can grow by ``nbytes`` (plus a margin).

    HDF5 (2.0 with h5py 3.16) crashes the process at close or exit after a write
    fails on a full disk, so writes are checked beforehand: against the free space
    of the folder and the file-size limit (``ulimit -f``).
    """
    path = Path(path)
    need = int(nbytes) + _SPACE_MARGIN
    try:
        free = shutil.disk_usage(path.parent).free
        current = path.stat().st_size if path.exists() else 0
    except OSError:
        return  # the write itself will report what is wrong
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        free = min(free, max(0, limit - current))
    if free < need:
        raise RunFileError(
            f"cannot {doing} {path}: not enough free space (needs about "
            f"{need / 2**20:.1f} MiB, {free / 2**20:.1f} MiB available); free some "
            "space or choose another --out"
        )


def _nbytes(arrays: dict) -> int:
    return sum(np.asarray(v).nbytes for v in arrays.values())


def _check_descriptions(arrays: dict, descriptions, where: str) -> dict:
    """``name -> (description, units)`` for every array, else ValueError."""
    descriptions = descriptions or {}
    out = {}
    for name in arrays:
        entry = descriptions.get(name)
        ok = (
            isinstance(entry, (tuple, list))
            and len(entry) == 2
            and all(isinstance(x, str) and x.strip() for x in entry)
        )
        if not ok:
            raise ValueError(
                f"dataset {where}/{name} needs a description: pass "
                f"descriptions={{{name!r}: (description, units)}} with non-empty "
                f'strings (units "1" when dimensionless); got {entry!r}'
            )
        out[name] = (entry[0], entry[1])
    return out


def _create_dataset(group, name, data, attrs=None, *, compress=True):
    """A dataset with a fletcher32 checksum (and gzip above 4 KiB when ``compress``).

    Scalars and strings cannot be chunked, so they carry no checksum.
    """
    import h5py

    data = np.asarray(data)
    if data.dtype.kind == "U":
        data = data.astype(object)
    kwargs = {}
    if data.dtype.kind == "O":
        kwargs["dtype"] = h5py.string_dtype()
    elif data.ndim > 0:
        kwargs["fletcher32"] = True
        kwargs["chunks"] = _chunk_shape(data.shape, data.dtype.itemsize)
        if compress and data.nbytes > _COMPRESS_ABOVE_BYTES:
            kwargs.update(compression="gzip", compression_opts=4)
    ds = group.create_dataset(name, data=data, **kwargs)
    for key, value in (attrs or {}).items():
        ds.attrs[key] = value
    return ds


def _chunk_shape(shape, itemsize):
    """Chunks of about 1 MiB along the first axis (whole rows), at least one row.

    Large chunks compress better and keep the chunk index small; a checksum per chunk
    still localises damage.
    """
    if 0 in shape:
        return True  # h5py's guess copes with empty extents
    row = itemsize * math.prod(shape[1:])
    rows = max(1, min(shape[0], _CHUNK_BYTES // max(row, 1)))
    if row * rows > 4 * _CHUNK_BYTES:  # rows too long: let h5py split them
        return True
    return (rows, *shape[1:])


def _copy_group_verified(src, dst):
    """Copy an HDF5 group by reading every dataset (checksums verified on read)."""
    import h5py

    for key, value in src.attrs.items():
        dst.attrs[key] = value
    for name, obj in src.items():
        if isinstance(obj, h5py.Group):
            _copy_group_verified(obj, dst.create_group(name))
        else:
            _create_dataset(dst, name, obj[()], dict(obj.attrs))


# ------------------------------------------------------------------------ locks
class RunLock:
    """Exclusive, non-blocking lock of a run path: ``flock`` on ``F.h5.lock``.

    The lock file holds the pid of its holder and is removed on release while still
    locked; after locking, the file on disk is checked to be the inode that was locked
    (else another process removed it meanwhile, and we retry), the standard
    unlink-safe pattern. The folder is created if missing.

    Raises
    ------
    RunLockedError
        If another process (or another RunLock of this process) holds it; nothing is
        written then.
    RunFileError
        If the lock file cannot be created (a parent is a file, permission denied).
    """

    def __init__(self, path):
        self.path = _final_path(path)  # F.h5.partial and F.h5 share one lock
        self.lock_path = lock_path(self.path)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        if self._fd is not None:
            raise RuntimeError(f"{self.lock_path} is already held by this RunLock")
        with _io(self.path, "lock"):
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            for _ in range(100):
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    pid = _read_pid(fd)
                    os.close(fd)
                    if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise RunLockedError(
                            f"{self.path} is in use by another wfm process (pid "
                            f"{pid}); wait for it to finish or choose another --out"
                        ) from None
                    raise
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.lock_path))
                except FileNotFoundError:
                    same = False
                if same:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                    self._fd = fd
                    return self
                os.close(fd)  # its holder removed it between our open and flock
        raise RunLockedError(
            f"{self.path}: could not lock {self.lock_path.name} (it keeps being "
            "replaced); retry, or choose another --out"
        )

    def release(self):
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.lock_path)  # while still holding it: see the class doc
        except OSError:
            pass
        finally:
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _read_pid(fd) -> str:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return str(int(text))
    except (OSError, ValueError):
        return "unknown"


def lock(path) -> RunLock:
    """``with lock("F.h5"): ...`` holds the lock of ``F.h5``; see :class:`RunLock`."""
    return RunLock(path)


# ---------------------------------------------------------------- checkpoints
def _encode_state(state: dict):
    """Checkpoint state -> (JSON text, {name: array}); arrays become placeholders."""
    if not isinstance(state, dict):
        raise TypeError(f"checkpoint state must be a dict, got {type(state).__name__}")
    arrays: dict[str, np.ndarray] = {}

    def encode(obj, where):
        if isinstance(obj, np.ndarray):
            name = where.replace("/", "_") or "array"
            while name in arrays:
                name += "_"
            arrays[name] = obj
            return {_ARRAY_KEY: name}
        if isinstance(obj, dict):
            out = {}
            for key, value in obj.items():
                if not isinstance(key, str):
                    raise TypeError(
                        f"checkpoint state keys must be str; got {key!r} in "
                        f"{where or 'state'}"
                    )
                out[key] = encode(value, f"{where}.{key}" if where else key)
            return out
        if isinstance(obj, (list, tuple)):
            return [encode(v, f"{where}.{i}") for i, v in enumerate(obj)]
        if isinstance(obj, (bool, np.bool_)):
            return bool(obj)
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            return float(obj)  # inf and nan included (JSON Infinity, NaN)
        if obj is None or isinstance(obj, str):
            return obj
        raise TypeError(
            f"checkpoint state {where or 'state'}: cannot store a "
            f"{type(obj).__name__} (use arrays, numbers, strings, lists and dicts)"
        )

    return json.dumps(encode(state, "")), arrays


def _decode_state(text: str, group) -> dict:
    def decode(obj):
        if isinstance(obj, dict):
            if set(obj) == {_ARRAY_KEY}:
                return group[obj[_ARRAY_KEY]][()]
            return {k: decode(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [decode(v) for v in obj]
        return obj

    return decode(json.loads(text))


@dataclass
class _Checkpoint:
    state: dict
    trace: dict
    trace_fields: dict
    trace_length: int
    run_attrs: dict


def _trace_dtype_name(dtype) -> str:
    for name, t in TRACE_DTYPES.items():
        if np.dtype(dtype) == np.dtype(t):
            return name
    raise ValueError(f"trace dtype {dtype} is not one of {', '.join(TRACE_DTYPES)}")


def _read_checkpoint(path) -> _Checkpoint:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("kind") != "checkpoint":
                raise ValueError("not a wfm checkpoint")
            if int(f.attrs["format_version"]) != FORMAT_VERSION:
                raise ValueError(
                    f"checkpoint format_version {int(f.attrs['format_version'])}, "
                    f"this wfm resumes {FORMAT_VERSION}"
                )
            state = _decode_state(str(f.attrs["state"]), f["state"])
            trace, fields = {}, {}
            for key, ds in f["trace"].items():
                trace[key] = ds[()]
                fields[key] = (
                    _trace_dtype_name(ds.dtype),
                    _plain(ds.attrs["description"]),
                    _plain(ds.attrs["units"]),
                )
            length = int(f.attrs["trace_length"])
            run_attrs = json.loads(f.attrs["run_attrs"])
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise RunCorruptError(
            f"{path}: checkpoint is unreadable ({_reason(exc)}); rerun with --force"
        ) from exc
    if any(len(v) != length for v in trace.values()):
        raise RunCorruptError(
            f"{path}: checkpoint trace lengths differ from {length}; rerun with --force"
        )
    return _Checkpoint(state, trace, fields, length, run_attrs)


def _check_trace_fields(trace_fields) -> dict:
    out = {}
    for key, spec in (trace_fields or {}).items():
        ok = (
            isinstance(key, str)
            and key
            and "/" not in key
            and isinstance(spec, (tuple, list))
            and len(spec) == 3
            and spec[0] in TRACE_DTYPES
            and all(isinstance(x, str) and x.strip() for x in spec[1:])
        )
        if not ok:
            raise ValueError(
                f"trace_fields[{key!r}] must be (dtype, description, units) with dtype "
                f"one of {', '.join(TRACE_DTYPES)} and non-empty strings; got {spec!r}"
            )
        out[key] = tuple(spec)
    return out


def _trace_value(key, dtype, value):
    """One trace value converted to its declared dtype, or ValueError."""
    try:
        if dtype == "float64":
            return float(value)
        if dtype == "bool":
            if isinstance(value, (bool, np.bool_)) or value in (0, 1):
                return bool(value)
        elif isinstance(value, (bool, np.bool_, int, np.integer)):
            return int(np.int64(value))
        elif isinstance(value, (float, np.floating)) and float(value).is_integer():
            return int(np.int64(value))
    except (TypeError, ValueError, OverflowError):
        pass
    raise ValueError(f"trace value {key}={value!r} is not a valid {dtype}")


# ----------------------------------------------------------------------- writer
class RunWriter:
    """Writes one run file, ``F.h5.partial`` renamed to ``F.h5`` when complete.

    Parameters
    ----------
    path : path-like
        Final path ``F.h5``.
    config : dict
        The fully resolved run spec, stored as JSON in the root attribute ``config``.
    root_attrs : dict
        Further root attributes (seed, streams, command_line, ...); dicts and lists
        are stored as JSON, ``None`` as ``"none"``.
    force : bool
        Start even if ``F.h5`` or ``F.h5.partial`` exists. An existing ``F.h5`` stays
        intact until :meth:`complete` replaces it.
    flush_seconds : float
        Buffered trace records are written and the file flushed this often.
    trace_fields : dict, optional
        ``key -> (dtype, description, units)``, dtype ``"int64"``, ``"float64"`` or
        ``"bool"``: the only keys :meth:`append_trace` accepts.

    Notes
    -----
    ``with RunWriter(...) as w`` takes the lock ``F.h5.lock`` (RunLockedError if
    another process holds it) and refuses (RunExistsError) an existing ``F.h5`` or
    ``F.h5.partial`` unless ``force``; nothing is written before that. The partial
    file is created on the first write. Leaving the block by an exception flushes the
    trace, sets status ``failed`` (``interrupted`` for KeyboardInterrupt and
    :class:`~wfm.errors.RunInterrupted`) and keeps ``.partial`` and ``.ckpt`` for
    ``--resume``; leaving it without :meth:`complete` keeps them with status
    ``running``.

    Examples
    --------
    >>> fields = {"iteration": ("int64", "BP sweep", "1")}
    >>> with RunWriter("x.h5", config=spec, root_attrs={"seed": 0},
    ...                trace_fields=fields) as w:              # doctest: +SKIP
    ...     w.write_data({"patterns": xi}, {"stored": True},
    ...                  {"patterns": ("input patterns", "1")})
    ...     w.append_trace({"iteration": 1})
    ...     w.checkpoint({"messages": h, "rng": rng.bit_generator.state})
    ...     w.write_solution({"weights": w}, {"converged": True},
    ...                      {"weights": ("binary weights", "1")})
    ...     w.complete()
    """

    def __init__(
        self,
        path,
        *,
        config: dict,
        root_attrs: dict,
        force: bool = False,
        flush_seconds: float = 2.0,
        trace_fields: dict | None = None,
    ):
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        reserved = set(root_attrs) & {*PROVENANCE_KEYS, "config", "status", "error"}
        if reserved:
            raise ValueError(
                f"root_attrs may not set {', '.join(sorted(reserved))} (the writer "
                "sets them)"
            )
        self.path = _final_path(path)
        self.partial = partial_path(self.path)
        self.checkpoint_path = checkpoint_path(self.path)
        self.config = config
        self._config_json = json.dumps(config)  # not serialisable: fail now
        self.root_attrs = {k: _plain(_attr_value(v)) for k, v in root_attrs.items()}
        self.force = bool(force)
        self.flush_seconds = float(flush_seconds)
        self.trace_fields = _check_trace_fields(trace_fields)
        self.needs_data = True
        self.completed = False
        self._lock = RunLock(self.path)
        self._file = None
        self._run_attrs: dict | None = None  # root attrs but status (for checkpoints)
        self._buffer: dict[str, list] = {k: [] for k in self.trace_fields}
        self._buffered = 0
        self._written = 0
        self._last_flush = time.monotonic()

    def __repr__(self):
        return f"RunWriter({str(self.path)!r}, trace_length={self.trace_length})"

    # -- lock and refusals
    def __enter__(self):
        if not self._lock.held:  # a resumed writer already holds it
            self._lock.acquire()
            try:
                self._refuse_existing()
            except BaseException:
                self._lock.release()
                raise
        return self

    open = __enter__

    def _refuse_existing(self):
        if self.path.is_dir():
            raise RunFileError(f"{self.path} is a folder; choose another --out")
        if self.force:
            return
        if os.path.lexists(self.path):
            raise RunExistsError(
                f"{self.path} already exists; use --force to overwrite it (it is "
                "replaced when the new run completes) or choose another --out"
            )
        if os.path.lexists(self.partial):
            if self.checkpoint_path.exists():
                raise RunExistsError(
                    f"{self.partial} holds an unfinished run; resume it with: "
                    f"wfm run --resume {self.path} (or use --force to start over)"
                )
            raise RunExistsError(
                f"{self.partial} holds an unfinished run without a checkpoint; use "
                "--force to start over"
            )

    def _require_lock(self):
        if not self._lock.held:
            raise RuntimeError(
                "RunWriter is not open: use `with RunWriter(...) as w:` (or "
                "RunWriter.resume)"
            )

    # -- the file
    @property
    def file(self):
        """The open ``h5py.File`` of ``F.h5.partial``, created on first use."""
        if self._file is None:
            self._require_lock()
            if self.completed:
                raise RuntimeError(f"{self.path} is already complete")
            with _io(self.partial, "create"):
                self._create_partial()
        return self._file

    def _create_partial(self):
        import h5py

        for stale in (self.partial, self.checkpoint_path, _ckpt_tmp(self.path)):
            stale.unlink(missing_ok=True)
        _require_space(self.partial, 0, "create")
        self._run_attrs = {
            **provenance(),
            "config": self._config_json,
            **self.root_attrs,
        }
        f = h5py.File(self.partial, "w")
        try:
            _write_attrs(f, {**self._run_attrs, "status": "running"})
            self._create_trace(f, {}, 0)
            f.flush()
        except BaseException:
            f.close()
            raise
        self._file = f

    def _create_trace(self, f, arrays: dict, length: int):
        g = f.create_group("trace")
        g.attrs["length"] = length
        for key, (dtype, description, units) in self.trace_fields.items():
            data = np.asarray(arrays.get(key, np.zeros(0)), TRACE_DTYPES[dtype])
            ds = g.create_dataset(
                key,
                data=data,
                maxshape=(None,),
                chunks=(_TRACE_CHUNK,),
                fletcher32=True,  # no gzip: fixed-size chunks are rewritten in place
            )
            ds.attrs["description"] = description
            ds.attrs["units"] = units

    # -- content
    def write_data(self, arrays: dict, attrs: dict | None = None, descriptions=None):
        """Write (or replace) ``/data``; every array needs ``(description, units)``."""
        self._write_group("data", arrays, attrs, descriptions)
        self.needs_data = False

    def write_solution(
        self, arrays: dict, attrs: dict | None = None, descriptions=None
    ):
        """Write (or replace) ``/solution``; every array needs a description."""
        self._write_group("solution", arrays, attrs, descriptions)

    def _write_group(self, name, arrays, attrs, descriptions):
        desc = _check_descriptions(arrays, descriptions, "/" + name)
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        f = self.file
        _require_space(self.partial, _nbytes(arrays), "write")
        with _io(self.partial, "write"):
            if name in f:
                del f[name]
            g = f.create_group(name)
            for key, value in arrays.items():
                description, units = desc[key]
                _create_dataset(
                    g, key, value, {"description": description, "units": units}
                )
            _write_attrs(g, attrs or {})
            f.flush()

    @property
    def trace_length(self) -> int:
        """Number of trace records appended so far (written or buffered)."""
        return self._written + self._buffered

    def append_trace(self, record: dict):
        """Buffer one trace record; written and flushed every ``flush_seconds``.

        Undeclared keys and values that do not fit the declared dtype raise
        ValueError; a missing float64 field is stored as NaN, a missing int64 or bool
        field is a ValueError.
        """
        unknown = [k for k in record if k not in self.trace_fields]
        if unknown:
            raise ValueError(
                f"trace key(s) {', '.join(map(repr, unknown))} not declared in "
                f"trace_fields (declared: {', '.join(self.trace_fields) or 'none'})"
            )
        values = {}
        for key, (dtype, _, _) in self.trace_fields.items():
            if key in record:
                values[key] = _trace_value(key, dtype, record[key])
            elif dtype == "float64":
                values[key] = math.nan
            else:
                raise ValueError(
                    f"trace record lacks {key!r} ({dtype} fields have no missing value)"
                )
        for key, value in values.items():
            self._buffer[key].append(value)
        self._buffered += 1
        if (
            time.monotonic() - self._last_flush >= self.flush_seconds
            or self._buffered >= _MAX_BUFFERED_RECORDS
        ):
            self.flush()

    def flush(self):
        """Write the buffered trace records and flush the file to disk."""
        f = self.file
        _require_space(self.partial, 8 * self._buffered * len(self._buffer), "write")
        with _io(self.partial, "write"):
            if self._buffered:
                start, stop = self._written, self._written + self._buffered
                trace = f["trace"]
                for key, values in self._buffer.items():
                    dtype = TRACE_DTYPES[self.trace_fields[key][0]]
                    ds = trace[key]
                    ds.resize((stop,))
                    ds[start:stop] = np.asarray(values, dtype)
                trace.attrs["length"] = stop
                for values in self._buffer.values():
                    values.clear()
                self._written, self._buffered = stop, 0
            f.flush()
        self._last_flush = time.monotonic()

    def checkpoint(self, state: dict):
        """Save ``state`` (and the trace so far) to ``F.h5.ckpt``, atomically.

        ``state`` is a dict of numpy arrays (stored as datasets) and JSON-able values
        (ints, floats incl. inf/nan, strings, None, nested lists/dicts such as
        ``Generator.bit_generator.state``; tuples come back as lists). The trace is
        flushed into the ``.partial`` first, and a copy of all its records goes into
        the checkpoint, which :meth:`resume` restores exactly.
        """
        import h5py

        text, arrays = _encode_state(state)
        self.flush()
        tmp = _ckpt_tmp(self.path)
        with _io(self.checkpoint_path, "write checkpoint"):
            trace = {k: self._file["trace"][k][: self._written] for k in self._buffer}
            tmp.unlink(missing_ok=True)
            _require_space(tmp, _nbytes(arrays) + _nbytes(trace), "write checkpoint")
            with h5py.File(tmp, "w") as c:
                c.attrs["format_version"] = FORMAT_VERSION
                c.attrs["kind"] = "checkpoint"
                c.attrs["created"] = _now()
                c.attrs["trace_length"] = self._written
                c.attrs["state"] = text
                c.attrs["run_attrs"] = json.dumps(self._run_attrs)
                g = c.create_group("state")
                for name, value in arrays.items():
                    _create_dataset(g, name, value, compress=False)
                g = c.create_group("trace")
                for key, (_, description, units) in self.trace_fields.items():
                    _create_dataset(
                        g,
                        key,
                        trace[key],
                        {"description": description, "units": units},
                        compress=False,
                    )
            _fsync_path(tmp)
            os.replace(tmp, self.checkpoint_path)
            _fsync_dir(self.path.parent)

    def mark(self, status: str, error=None):
        """Set the root ``status`` (and ``error``) and flush."""
        if status not in STATUSES or status == "complete":
            raise ValueError(
                f"status must be running, failed or interrupted, got {status!r} "
                "(use complete())"
            )
        f = self.file
        self.flush()
        with _io(self.partial, "write"):
            f.attrs["status"] = status
            if error is not None:
                f.attrs["error"] = _one_line(error)
            f.flush()

    def complete(self) -> Path:
        """Mark complete, close, fsync, rename ``.partial`` -> ``F.h5``, unlock.

        The checkpoint is deleted; an existing ``F.h5`` (with ``force``) is replaced
        only now, atomically.
        """
        f = self.file
        self.flush()
        with _io(self.path, "complete"):
            f.attrs["status"] = "complete"
            f.close()
            self._file = None
            _fsync_path(self.partial)
            os.replace(self.partial, self.path)
            _fsync_dir(self.path.parent)
            self.checkpoint_path.unlink(missing_ok=True)
        self.completed = True
        self._lock.release()
        return self.path

    def close(self):
        """Flush and close the partial file and release the lock (no rename)."""
        try:
            if self._file is not None:
                self.flush()
                self._file.close()
                self._file = None
        finally:
            self._lock.release()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
            return False
        try:
            if self._file is not None:
                interrupted = issubclass(exc_type, (KeyboardInterrupt, RunInterrupted))
                # best effort: the exception that brought us here matters more
                with contextlib.suppress(Exception):
                    self.flush()
                with contextlib.suppress(Exception):
                    self._file.attrs["status"] = (
                        "interrupted" if interrupted else "failed"
                    )
                    self._file.attrs["error"] = _one_line(f"{exc_type.__name__}: {exc}")
                with contextlib.suppress(Exception):
                    self._file.close()
                self._file = None
        finally:
            self._lock.release()
        return False

    # -- resume
    @classmethod
    def resume(cls, path, *, trace_fields=None, flush_seconds: float = 2.0):
        """Continue an unfinished run from its last checkpoint.

        Parameters
        ----------
        path : path-like
            ``F.h5`` or ``F.h5.partial``.
        trace_fields : dict, optional
            As for the constructor; by default those stored in the checkpoint. When
            given, the keys must be the checkpoint's.

        Returns
        -------
        writer : RunWriter
            Holding the lock; use it as ``with writer: ...``. Its ``.partial`` is
            rebuilt with the checkpoint's trace exactly (records written after the
            checkpoint are dropped) and status ``running``. ``writer.needs_data`` is
            True when ``/data`` could not be kept (missing or damaged): call
            :meth:`write_data` again.
        state : dict
            The checkpoint's state.
        config : dict
            The stored config.

        Raises
        ------
        RunLockedError, RunExistsError (already complete), RunFileError (no
        checkpoint), RunCorruptError (unreadable checkpoint)
        """
        path = _final_path(path)
        writer = cls(
            path,
            config={},
            root_attrs={},
            flush_seconds=flush_seconds,
            trace_fields=trace_fields,
        )
        writer._lock.acquire()
        try:
            state = writer._resume(trace_fields is not None)
        except BaseException:
            writer.close()
            raise
        return writer, state, writer.config

    def _resume(self, fields_given: bool) -> dict:
        import h5py

        partial_exists = os.path.lexists(self.partial)
        if not partial_exists and os.path.lexists(self.path):
            raise RunExistsError(
                f"{self.path} is already complete; nothing to resume (use --force to "
                "run it again)"
            )
        if not self.checkpoint_path.exists():
            what = self.partial if partial_exists else self.path
            raise RunFileError(
                f"{what}: no checkpoint to resume from ({self.checkpoint_path.name} is "
                "missing); rerun with --force"
            )
        ckpt = _read_checkpoint(self.checkpoint_path)
        if fields_given:
            if set(self.trace_fields) != set(ckpt.trace_fields):
                raise ValueError(
                    f"trace_fields {sorted(self.trace_fields)} differ from the "
                    f"checkpoint's {sorted(ckpt.trace_fields)}"
                )
        else:
            self.trace_fields = ckpt.trace_fields
        self._buffer = {k: [] for k in self.trace_fields}
        run_attrs = dict(ckpt.run_attrs)
        run_attrs["resumed"] = int(run_attrs.get("resumed", 0)) + 1
        self._run_attrs = run_attrs
        self.config = json.loads(run_attrs.get("config", "{}"))
        self._config_json = json.dumps(self.config)
        self.root_attrs = {
            k: v
            for k, v in run_attrs.items()
            if k not in PROVENANCE_KEYS and k not in ("config", "resumed")
        }
        # Always rebuild the partial: a kill mid-flush can leave HDF5 metadata that
        # opens but is inconsistent. /data is kept when every dataset reads back.
        tmp = _sidecar(self.path, ".resume.tmp")
        with _io(self.partial, "rebuild"):
            tmp.unlink(missing_ok=True)
            _ckpt_tmp(self.path).unlink(missing_ok=True)
            old = self.partial.stat().st_size if partial_exists else 0
            _require_space(tmp, old + _nbytes(ckpt.trace), "rebuild")
            with h5py.File(tmp, "w") as f:
                _write_attrs(f, {**run_attrs, "status": "running"})
                self.needs_data = not (
                    partial_exists and _copy_data_verified(self.partial, f)
                )
                self._create_trace(f, ckpt.trace, ckpt.trace_length)
            _fsync_path(tmp)
            os.replace(tmp, self.partial)
            _fsync_dir(self.path.parent)
            self._file = h5py.File(self.partial, "r+")
        self._written, self._buffered = ckpt.trace_length, 0
        self._last_flush = time.monotonic()
        return ckpt.state


def _ckpt_tmp(path) -> Path:
    return _sidecar(path, ".ckpt.tmp")


def _copy_data_verified(src_path, dst) -> bool:
    """Copy ``/data`` of ``src_path`` into ``dst``; False if absent or unreadable."""
    import h5py

    try:
        with h5py.File(src_path, "r") as src:
            if "data" not in src:
                return False
            _copy_group_verified(src["data"], dst.create_group("data"))
        return True
    except (OSError, RuntimeError, ValueError, KeyError, TypeError):
        with contextlib.suppress(Exception):
            if "data" in dst:
                del dst["data"]
        return False


# ----------------------------------------------------------------------- reader
@dataclass
class GroupData:
    """The datasets (as arrays) and attributes of one HDF5 group.

    ``dataset_attrs`` maps each dataset name to its attributes (``description`` and
    ``units`` in format-2 files).
    """

    name: str
    arrays: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)
    dataset_attrs: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.arrays[key]


def _open_h5(path):
    """Open a wfm file read-only and check its format_version, else RunFileError."""
    import h5py

    path = Path(path)
    if not os.path.lexists(path):
        raise RunFileError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        if "unable to lock file" in str(exc).lower():
            raise RunLockedError(
                f"{path} is open for writing by another process; wait for it to finish"
            ) from exc
        raise RunFileError(
            f"{path}: not a readable wfm run file (truncated or not HDF5): "
            f"{_reason(exc)}"
        ) from exc
    try:
        with _reading(path, "the root attributes"):
            version = f.attrs.get("format_version")
        if version is None:
            raise RunFileError(
                f"{path}: not a wfm run file (no format_version attribute)"
            )
        if int(version) not in READABLE_FORMAT_VERSIONS:
            raise RunFileError(
                f"{path}: format_version {int(version)} is not supported by wfm "
                f"{__version__} (reads format_version "
                f"{', '.join(map(str, READABLE_FORMAT_VERSIONS))}); upgrade wfm"
            )
    except BaseException:
        f.close()
        raise
    return f


def _read_dataset(ds, path):
    with _reading(path, f"dataset {ds.name}"):
        return ds[()]


def _verify_dataset(ds, path):
    """Read all of ``ds`` (chunk by chunk when large) so its checksums are checked."""
    with _reading(path, f"dataset {ds.name}"):
        if ds.chunks is None or ds.size * ds.dtype.itemsize <= _VERIFY_WHOLE_BYTES:
            ds[()]
        else:
            for chunk in ds.iter_chunks():
                ds[chunk]


def _read_group(g, name, path, renames=None) -> GroupData:
    import h5py

    datasets = []
    with _reading(path, f"group {name}"):
        g.visititems(
            lambda key, obj: (
                datasets.append((key, obj)) if isinstance(obj, h5py.Dataset) else None
            )
        )
        attrs = {k: _plain(v) for k, v in g.attrs.items()}
    arrays, dataset_attrs = {}, {}
    renames = renames or {}
    for key, ds in datasets:
        head, sep, base = key.rpartition("/")
        out = head + sep + renames.get(base, base)
        arrays[out] = _read_dataset(ds, path)
        with _reading(path, f"dataset {ds.name}"):
            dataset_attrs[out] = {k: _plain(v) for k, v in ds.attrs.items()}
    return GroupData(name, arrays, attrs, dataset_attrs)


class Run:
    """A stored run, read with :func:`open_run`; arrays are read on access.

    Attributes
    ----------
    path : Path
    attrs : dict
        Root attributes (provenance, status, config JSON, seed, ...).
    groups : list of str
        Top-level groups.
    format_version : int

    Notes
    -----
    Every failure to read turns into a one-line :class:`~wfm.errors.RunFileError`
    (:class:`~wfm.errors.RunCorruptError` for damaged bytes). Files with ``/data``
    attr ``stored = false`` get their data from :meth:`_regenerate_data`, which a
    subclass (``wfm.open_run``'s) provides.
    """

    def __init__(self, path):
        self.path = Path(path)
        with _open_h5(self.path) as f, _reading(self.path, "the file structure"):
            self.attrs = {k: _plain(v) for k, v in f.attrs.items()}
            self.groups = sorted(f.keys())
        self.format_version = int(self.attrs["format_version"])
        self._cache: dict[str, GroupData] = {}
        self._regenerated = None

    def __repr__(self):
        return f"{type(self).__name__}({str(self.path)!r}, status={self.status!r})"

    @property
    def status(self) -> str:
        return self.attrs.get("status", "unknown")

    @property
    def config_dict(self) -> dict | None:
        """The stored config (resolved run spec) as a dict; ``None`` if absent."""
        if "config" not in self.attrs:
            return None
        try:
            return json.loads(self.attrs["config"])
        except (TypeError, ValueError) as exc:
            raise RunCorruptError(
                f"{self.path}: the config attribute is not valid JSON ({exc}); the "
                "file is damaged: rerun with --force"
            ) from exc

    def group(self, name: str) -> GroupData:
        """Datasets and attributes of any group, e.g. ``"/theory/entropy"``.

        In format-1 files the ``/local_entropy/<name>`` datasets are renamed to the
        format-2 names (d -> distance, s -> local_entropy, lambda -> coupling,
        q -> overlap, q_derivative -> overlap_derivative).
        """
        import h5py

        key = name.strip("/")
        if key not in self._cache:
            with _open_h5(self.path) as f:
                with _reading(self.path, f"group /{key}"):
                    obj = f.get(key)
                if not isinstance(obj, h5py.Group):
                    raise KeyError(f"{self.path} has no group /{key}")
                renames = None
                if self.format_version == 1 and key.split("/")[0] == "local_entropy":
                    renames = _FORMAT1_LOCAL_ENTROPY_NAMES
                self._cache[key] = _read_group(obj, "/" + key, self.path, renames)
        return self._cache[key]

    def _regenerate_data(self) -> dict:
        """``{"patterns", "labels"[, "teacher"]}`` of a run whose data is not stored.

        The base class cannot (it would need wfm.data); ``wfm.open_run`` returns a
        subclass that regenerates the data from the stored seed.
        """
        raise RunFileError(
            f"{self.path}: data not stored in the file; open it with wfm.open_run to "
            "regenerate it from the seed"
        )

    def _data(self) -> dict:
        if "data" in self.groups:
            data = self.group("data")
            if data.attrs.get("stored", True):
                return data.arrays
        if self._regenerated is None:
            self._regenerated = self._regenerate_data()
        return self._regenerated

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
        """``/solution``: ``.arrays["weights"]``, ``.attrs``."""
        return self.group("solution")

    @property
    def weights(self) -> np.ndarray:
        """Solution weights."""
        return self.solution.arrays["weights"]

    @property
    def trace(self) -> dict:
        """``/trace`` as a dict of 1-D arrays in their stored dtypes ({} if none)."""
        if "trace" not in self.groups:
            return {}
        return self.group("trace").arrays

    def extra_groups(self) -> list[str]:
        """Paths of the groups holding datasets beyond /data, /solution, /trace."""
        import h5py

        out = []
        with _open_h5(self.path) as f, _reading(self.path, "the file structure"):

            def visit(key, obj):
                top = key.split("/")[0]
                if top in _RUN_GROUPS or not isinstance(obj, h5py.Group):
                    return
                if len(obj) == 0 or any(
                    isinstance(v, h5py.Dataset) for v in obj.values()
                ):
                    out.append("/" + key)

            f.visititems(visit)
        return out

    def summary(self) -> dict:
        """Plain data (for ``wfm show --json``): config, provenance, result, groups."""
        prov = {
            k: v
            for k, v in self.attrs.items()
            if k not in ("config", "format_version", "seed", "status")
        }
        out = {
            "path": str(self.path),
            "format_version": self.format_version,
            "status": self.status,
            "seed": self.attrs.get("seed"),
            "config": self.config_dict,
            "provenance": prov,
        }
        if "solution" in self.groups:
            out["solution"] = dict(self.solution.attrs)
            if "weights" in self.solution.arrays:
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
            out["trace"]["last"] = {
                k: _plain(v[-1]) for k, v in trace.items() if len(v)
            }
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
        unknown ``format_version`` (:class:`~wfm.errors.RunCorruptError` when a part
        read later turns out damaged).
    """
    return Run(path)


def _read_attr_fast(obj, name: str):
    """One attribute by h5py's low-level API (half the time of ``obj.attrs[name]``,
    which matters when a catalog reads thousands of files)."""
    from h5py import h5a

    attr = h5a.open(obj.id, name.encode())
    out = np.empty(attr.shape, dtype=attr.dtype)
    attr.read(out)
    return _plain(out[()] if out.ndim == 0 else out)


def _attrs_fast(obj, names=None) -> dict:
    names = list(obj.attrs) if names is None else [n for n in names if n in obj.attrs]
    return {n: _read_attr_fast(obj, n) for n in names}


def read_attrs(path, *, root=None, skip=("data",)) -> dict:
    """The attributes of the root and of the groups (top level and one below),
    reading no dataset: one open of the file, what a catalog of many runs needs.

    Parameters
    ----------
    path : path-like
    root : iterable of str, optional
        Root attributes to read (default all).
    skip : tuple of str
        Top-level groups left out (default ``/data``). Of ``/trace`` only its
        ``length`` is read.

    Returns
    -------
    dict
        ``{"/": root attrs, "/solution": ..., "/trace": {"length": n},
        "/local_entropy/x": ...}`` with plain Python values (bytes decoded).

    Raises
    ------
    RunFileError
        As :func:`open_run`.
    """
    import h5py

    path = Path(path)
    with _open_h5(path) as f, _reading(path, "the attributes"):
        out = {"/": _attrs_fast(f, root)}
        for key in f:
            if key in skip:
                continue
            g = f[key]
            if not isinstance(g, h5py.Group):
                continue
            out["/" + key] = _attrs_fast(g, ["length"] if key == "trace" else None)
            if key in _RUN_GROUPS:
                continue
            for sub in g:
                child = g[sub]
                if isinstance(child, h5py.Group):
                    out[f"/{key}/{sub}"] = _attrs_fast(child)
    return out


def validate_run(path, *, require_complete: bool = True) -> None:
    """Check a run file fully: format, status, and every dataset's bytes.

    Reading every dataset verifies its fletcher32 checksum (and gzip stream), so a
    damaged file is found before it is used or modified.

    Raises
    ------
    RunFileError
        Missing file, not a wfm file, unknown format_version.
    RunIncompleteError
        ``require_complete`` and the status is not ``complete``.
    RunCorruptError
        A dataset, attribute or the file structure cannot be read.
    """
    import h5py

    path = Path(path)
    with _open_h5(path) as f:
        with _reading(path, "the root attributes"):
            status = _plain(f.attrs.get("status", "unknown"))
        if require_complete and status != "complete":
            raise RunIncompleteError(
                f"{path}: the run is {status}, not complete; resume it with: wfm run "
                f"--resume {_final_path(path)} (or rerun with --force)"
            )
        datasets = []

        def visit(key, obj):
            dict(obj.attrs)  # attributes live in object headers: read them too
            if isinstance(obj, h5py.Dataset):
                datasets.append(obj)

        with _reading(path, "the file structure"):
            f.visititems(visit)
        for ds in datasets:
            _verify_dataset(ds, path)


# -------------------------------------------------------------- appending groups
def append_group(
    path,
    name: str,
    arrays: dict,
    attrs: dict | None = None,
    descriptions: dict | None = None,
    *,
    create: bool = False,
) -> Path:
    """Write (or replace) group ``name`` of a complete run file, never losing it.

    Under the lock of ``path``, the file is validated (:func:`validate_run`), copied
    to ``F.h5.append.tmp``, modified, fsynced and renamed over ``F.h5``: a kill at
    any moment leaves the original file intact.

    Parameters
    ----------
    path : path-like
        Run file ``F.h5``.
    name : str
        Group path such as ``"/local_entropy/bp"``.
    arrays : dict
        Dataset name -> array.
    attrs : dict, optional
        Attributes of the group (``None`` stored as ``"none"``, dicts as JSON).
    descriptions : dict
        Dataset name -> ``(description, units)``, required for every array.
    create : bool
        Allow creating a missing file holding only groups (theory curves), with
        provenance attributes and ``status = "complete"``.

    Raises
    ------
    ValueError
        An array without a description.
    RunFileError, RunIncompleteError, RunCorruptError, RunLockedError
        Missing file (without ``create``), unfinished run, damaged file, another
        process writing it; the file is left untouched.
    """
    import h5py

    path = Path(path)
    key = name.strip("/")
    if not key:
        raise ValueError("append_group needs a group name such as '/theory/x'")
    desc = _check_descriptions(arrays, descriptions, "/" + key)
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    tmp = _sidecar(path, ".append.tmp")
    with RunLock(path):
        exists = os.path.lexists(path)
        if exists:
            validate_run(path)
        elif not create:
            raise RunFileError(f"{path}: no such file")
        try:
            with _io(tmp, "write"):
                tmp.unlink(missing_ok=True)
                old = path.stat().st_size if exists else 0
                _require_space(tmp, old + _nbytes(arrays), "write")
                if exists:
                    shutil.copyfile(path, tmp)
                    shutil.copymode(path, tmp)
                with h5py.File(tmp, "r+" if exists else "w") as f:
                    if not exists:
                        _write_attrs(f, {**provenance(), "status": "complete"})
                    if key in f:
                        del f[key]
                    g = f.create_group(key)
                    for k, value in arrays.items():
                        description, units = desc[k]
                        _create_dataset(
                            g, k, value, {"description": description, "units": units}
                        )
                    _write_attrs(g, attrs or {})
                _fsync_path(tmp)
                os.replace(tmp, path)
                _fsync_dir(path.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path
