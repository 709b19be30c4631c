"""Parameter sweeps: grids of run specs -> one run file per point, and the catalog.

A sweep is a *template* (a run config: TOML table plus ``--set`` overrides), a
*grid* (keys -> values, Cartesian product) and a list of *seeds*. Every point is a
fully resolved :class:`~wfm.config.RunSpec`, written to
``DIR/<model>_<learner>_n<N>_alpha<a>_seed<s>_<hash>.h5`` (the name of
:func:`wfm.api.default_out_path`, the hash covering the whole resolved spec), so a
point's file name *is* its identity: a re-run skips complete files, resumes
``.partial`` files from their checkpoint (:func:`wfm.api.resume`) and runs the rest.

Files in ``DIR`` besides the runs::

    sweep.json       the manifest: kind, wfm version, the template, the grid, the seeds,
                     and one entry per point (file, grid values, seed, status,
                     solved, error); rewritten atomically as the sweep goes
    failures.jsonl   one JSON line per failed attempt (file, error, time), appended

Executors:

* the local pool (default): ``jobs`` worker processes (one per core), each running
  one point at a time; a worker past ``timeout`` gets SIGTERM (the run checkpoints at
  its next safe point and stops) and SIGKILL after a grace period. Either way no
  complete file is touched: runs are written to ``F.h5.partial`` and renamed when
  complete (:mod:`wfm.store`), so a killed point is resumed by the next sweep.
* ``dask.distributed`` (``scheduler="tcp://host:8786"`` or ``"local-cluster"``), with
  ``transfer="shared"`` (workers write into ``DIR``, which they must see: a shared
  filesystem; partial runs resume) or ``transfer="client"`` (workers run in a
  temporary folder and send the complete file's bytes back; the client writes them
  into ``DIR`` atomically; for clusters without a shared filesystem, where an
  interrupted point restarts from scratch).

A point that fails (an exception, non-finite weights, a timeout, a worker killed)
is recorded in the manifest and in ``failures.jsonl`` and never stops the sweep;
Ctrl-C stops it cleanly (running points checkpoint; complete files are never lost).

The catalog (:func:`catalog`, ``wfm table``) reads every run file of a folder once,
attributes only (:func:`wfm.store.read_attrs`), into one record per run.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wfm import store
from wfm._version import __version__
from wfm.config import (
    RunSpec,
    apply_overrides,
    dotted_key,
    load_toml,
    parse_value,
)
from wfm.errors import ConfigError, RunFileError, RunInterrupted

__all__ = [
    "AGGREGATES",
    "MANIFEST",
    "FAILURES",
    "SweepPlan",
    "SweepResult",
    "aggregate",
    "catalog",
    "CATALOG_CACHE",
    "catalog_records",
    "filter_records",
    "load_plan",
    "parse_grid",
    "parse_seeds",
    "parse_where",
    "sweep",
    "sweep_measure",
    "table",
    "wilson_interval",
]

MANIFEST = "sweep.json"
FAILURES = "failures.jsonl"
MANIFEST_KIND = "wfm-sweep"
MANIFEST_VERSION = 1
SCHEDULER_TIMEOUT_S = 10.0
KILL_GRACE_S = 10.0  # SIGTERM -> SIGKILL of a timed-out worker
_MANIFEST_EVERY_S = 5.0
_MAX_POINTS = 10**6


# ------------------------------------------------------------------ grids
def _range_values(text, a, b, step):
    start, stop, inc = nums = tuple(parse_value(x.strip()) for x in (a, b, step))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in nums):
        raise ConfigError(f"grid {text!r}: a range needs numbers, key=start:stop:step")
    if not inc > 0:
        raise ConfigError(f"grid {text!r}: step must be > 0, got {inc}")
    if stop < start:
        raise ConfigError(f"grid {text!r} has no values (stop {stop} < start {start})")
    count = int(math.floor((stop - start) / inc + 1e-9)) + 1
    if count > _MAX_POINTS:
        raise ConfigError(f"grid {text!r} has {count} values; at most {_MAX_POINTS}")
    if all(isinstance(v, int) for v in nums):
        return tuple(start + i * inc for i in range(count))
    # rounded, so 0.5 + 2 * 0.05 is 0.6 in file names and spec hashes
    return tuple(float(round(start + i * inc, 10)) for i in range(count))


def parse_grid(item) -> tuple[str, tuple]:
    """One grid axis from ``"key=start:stop:step"`` (stop included when reached) or
    ``"key=v1,v2,..."``; values are parsed as TOML (:func:`wfm.config.parse_value`).

    Returns
    -------
    key : str
        As given (bare or dotted); :class:`SweepPlan` resolves it.
    values : tuple

    Raises
    ------
    ConfigError
        Malformed, empty, or a range with a step <= 0 or stop < start.
    """
    if isinstance(item, (tuple, list)) and len(item) == 2:
        key, raw = item
        text = f"{key}={raw!r}"
    elif isinstance(item, str):
        key, sep, raw = item.partition("=")
        text = item
        if not sep:
            raise ConfigError(
                f"grid must look like key=start:stop:step or key=v1,v2; got {item!r}"
            )
    else:
        raise ConfigError(f"grid must be 'key=values', got {item!r}")
    key = str(key).strip()
    if not key:
        raise ConfigError(f"grid {text!r} has no key")
    if isinstance(raw, (list, tuple)):
        values = tuple(raw)
    elif isinstance(raw, str):
        raw = raw.strip()
        parts = raw.split(":")
        if len(parts) == 3 and "," not in raw:
            values = _range_values(text, *parts)
        elif len(parts) != 1:
            raise ConfigError(
                f"grid {text!r}: a range is start:stop:step (three numbers)"
            )
        else:
            values = tuple(parse_value(v.strip()) for v in raw.split(",") if v.strip())
    else:
        values = (raw,)
    if not values:
        raise ConfigError(f"grid {text!r} has no values")
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(f"grid {text!r} repeats a value")
    return key, values


def parse_seeds(seeds) -> tuple[int, ...]:
    """Seeds from ``"a:b"`` (``range(a, b)``: ``0:20`` is 20 seeds), ``"s1,s2"``, an
    int (one seed) or a list of ints."""
    if isinstance(seeds, bool):
        raise ConfigError(f"seeds must be a:b, a list or an int, got {seeds!r}")
    if isinstance(seeds, int):
        out = (seeds,)
    elif isinstance(seeds, (list, tuple)):
        out = tuple(seeds)
    elif isinstance(seeds, str):
        text = seeds.strip()
        a, sep, b = text.partition(":")
        try:
            if sep:
                out = tuple(range(int(a), int(b)))
            else:
                out = tuple(int(s) for s in text.split(",") if s.strip())
        except ValueError:
            raise ConfigError(
                f"seeds must look like a:b (range(a, b)) or s1,s2,...; got {seeds!r}"
            ) from None
    else:
        raise ConfigError(f"seeds must be a:b, a list or an int, got {seeds!r}")
    if not out:
        raise ConfigError(f"seeds {seeds!r} gives no seed")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in out):
        raise ConfigError(f"seeds must be integers >= 0, got {seeds!r}")
    if len(set(out)) != len(out):
        raise ConfigError(f"seeds {seeds!r} repeats a seed")
    return out


@dataclass(frozen=True)
class SweepPlan:
    """A template run config, a grid and seeds: the points of a sweep.

    Attributes
    ----------
    template : dict
        A run config (flat TOML layout) without the grid keys and the seed.
    grid : tuple of (str, tuple)
        Dotted keys and their values, in order (the last varies fastest).
    seeds : tuple of int
    """

    template: dict
    grid: tuple = ()
    seeds: tuple = (0,)
    points: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "grid", tuple((k, tuple(v)) for k, v in self.grid))
        object.__setattr__(self, "seeds", parse_seeds(list(self.seeds)))
        keys = [k for k, _ in self.grid]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"grid key given twice: {', '.join(keys)}")
        if "seed" in keys:
            raise ConfigError("seed is not a grid key; use --seeds")
        size = math.prod(len(v) for _, v in self.grid) * len(self.seeds)
        if size > _MAX_POINTS:
            raise ConfigError(f"the sweep has {size} points; at most {_MAX_POINTS}")
        points = []
        for values in _product([v for _, v in self.grid]):
            for seed in self.seeds:
                overrides = [*zip(keys, values, strict=True), ("seed", seed)]
                spec = RunSpec.from_dict(apply_overrides(self.template, overrides))
                points.append((dict(zip(keys, values, strict=True)), seed, spec))
        object.__setattr__(self, "points", tuple(points))

    @classmethod
    def build(cls, config=None, grids=(), seeds=None, overrides=()) -> SweepPlan:
        """From a TOML file (its ``[sweep]`` table: ``grid = {key = "a:b:step" or
        [values]}``, ``seeds = "0:20"``), ``--grid`` items (replacing the TOML's for
        the same key), ``--seeds`` and ``--set`` overrides of the template."""
        table = load_toml(config) if config else {}
        table = {k: (dict(v) if isinstance(v, dict) else v) for k, v in table.items()}
        sweep_table = table.pop("sweep", {})
        if not isinstance(sweep_table, dict):
            raise ConfigError(f"sweep must be a table, got {sweep_table!r}")
        bad = sorted(set(sweep_table) - {"grid", "seeds"})
        if bad:
            raise ConfigError(
                f"sweep.{bad[0]} is not a sweep key; accepted: grid, seeds"
            )
        toml_grid = sweep_table.get("grid", {})
        if not isinstance(toml_grid, dict):
            raise ConfigError(f"sweep.grid must be a table, got {toml_grid!r}")
        template = apply_overrides(table, overrides)
        axes = {}
        for key, raw in toml_grid.items():
            k, values = parse_grid((key, raw))
            axes[dotted_key(template, k)] = values
        for item in grids:
            k, values = parse_grid(item)
            dk = dotted_key(template, k)
            axes.pop(dk, None)
            axes[dk] = values
        if seeds is None:
            seeds = sweep_table.get("seeds", template.get("seed", 0))
        seeds = parse_seeds(seeds)
        template = _without(template, [*axes, "seed"])
        return cls(template=template, grid=tuple(axes.items()), seeds=seeds)

    def manifest_head(self) -> dict:
        return {
            "kind": MANIFEST_KIND,
            "manifest_version": MANIFEST_VERSION,
            "template": self.template,
            "grid": {k: list(v) for k, v in self.grid},
            "seeds": list(self.seeds),
        }


def load_plan(config=None, grids=(), seeds=None, overrides=()) -> SweepPlan:
    """:meth:`SweepPlan.build` (the points are validated here, before any work)."""
    return SweepPlan.build(config, grids, seeds, overrides)


def _product(axes):
    if not axes:
        yield ()
        return
    for head in axes[0]:
        for tail in _product(axes[1:]):
            yield (head, *tail)


def _without(config, dotted_keys):
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    for key in dotted_keys:
        section, _, leaf = key.rpartition(".")
        if section:
            out.get(section, {}).pop(leaf, None)
            if section in out and not out[section]:
                del out[section]
        else:
            out.pop(leaf, None)
    return out


def point_name(spec: RunSpec) -> str:
    """The file name of a point: ``default_out_path(spec).name``."""
    from wfm.api import default_out_path

    return default_out_path(spec).name


# --------------------------------------------------------------- manifest
def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _write_json_atomic(path: Path, obj):
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with store._io(path, "write"):
        tmp.write_text(json.dumps(obj, indent=1, allow_nan=True) + "\n")
        os.replace(tmp, path)


def _read_manifest(out: Path):
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunFileError(
            f"{path}: unreadable sweep manifest ({exc}); move it away or choose "
            "another --out"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise RunFileError(f"{path} is not a wfm sweep manifest; choose another --out")
    return manifest


def _check_folder(out: Path, head: dict, manifest, names):
    """Refuse a folder holding the runs of another sweep (ConfigError). Without a
    manifest, run files are adopted only if each is a point of this sweep."""
    if out.exists() and not out.is_dir():
        raise RunFileError(f"{out} is not a folder; choose another --out")
    if manifest is None:
        stray = sorted(p.name for p in out.glob("*.h5")) if out.is_dir() else []
        stray = [s for s in stray if s not in names]
        if stray:
            raise ConfigError(
                f"{out} holds run files that are not points of this sweep "
                f"({stray[0]}, ...) and no {MANIFEST}: choose an empty or new --out "
                "folder"
            )
        return
    if _canonical(manifest.get("template")) != _canonical(head["template"]):
        diff = _first_difference(manifest.get("template"), head["template"])
        raise ConfigError(
            f"{out} holds the runs of another spec ({diff}); choose another --out "
            "(or the same config, --set and grid keys)"
        )
    old_keys = list(manifest.get("grid", {}))
    if sorted(old_keys) != sorted(head["grid"]):
        raise ConfigError(
            f"{out} holds a sweep over {', '.join(old_keys) or 'no grid'}, not "
            f"{', '.join(head['grid']) or 'no grid'}; choose another --out"
        )


def _canonical(obj):
    return json.dumps(obj, sort_keys=True)


def _flat(config, prefix=""):
    out = {}
    for k, v in (config or {}).items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class _Unset:
    def __repr__(self):
        return "(unset)"


_UNSET = _Unset()


def _first_difference(old, new):
    a, b = _flat(old), _flat(new)
    for key in sorted(set(a) | set(b)):
        there, here = a.get(key, _UNSET), b.get(key, _UNSET)
        if there != here:
            return f"{key} = {there!r} there, {here!r} here"
    return "the template differs"  # pragma: no cover


# ------------------------------------------------------------ one point
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_point(config: dict, path, checkpoint_seconds: float = 5.0) -> dict:
    """Run (or resume) one point into ``path``; never raises for a failed run.

    Returns
    -------
    dict
        ``status`` (complete | failed | interrupted), ``how`` (ran | resumed),
        ``solved``, ``error``, ``seconds``.
    """
    from wfm import api

    path = Path(path)
    t0 = time.perf_counter()
    how = "ran"
    try:
        spec = RunSpec.from_dict(config)
        partial = store.partial_path(path)
        if partial.exists() and store.checkpoint_path(path).exists():
            how = "resumed"
            stored = api.resume(path, checkpoint_seconds=checkpoint_seconds)
        else:
            stored = api.run(
                spec, out=path, force=partial.exists(),
                checkpoint_seconds=checkpoint_seconds,
                command_line=f"wfm sweep (point {path.name})",
            )  # fmt: skip
        weights = np.asarray(stored.weights)
        if weights.dtype.kind == "f" and not np.isfinite(weights).all():
            return {
                "status": "failed", "how": how, "solved": False,
                "error": "the solution has non-finite weights (NaN/inf)",
                "seconds": time.perf_counter() - t0,
            }  # fmt: skip
        return {
            "status": "complete", "how": how, "solved": bool(stored.solved),
            "error": None, "seconds": time.perf_counter() - t0,
        }  # fmt: skip
    except (RunInterrupted, KeyboardInterrupt) as exc:
        status, error = "interrupted", _one_line(exc)
    except Exception as exc:  # a failing point is recorded, never fatal
        status, error = "failed", _one_line(exc)
    return {
        "status": status, "how": how, "solved": None, "error": error,
        "seconds": time.perf_counter() - t0,
    }  # fmt: skip


def _run_point_remote(config: dict, name: str, checkpoint_seconds: float) -> dict:
    """Dask ``transfer="client"``: run in a temporary folder, return the file bytes."""
    with tempfile.TemporaryDirectory(prefix="wfm-sweep-") as tmp:
        path = Path(tmp) / name
        result = run_point(config, path, checkpoint_seconds)
        if result["status"] == "complete":
            result["file_bytes"] = path.read_bytes()
        return result


def measure_point(measure: str, path, options: dict) -> dict:
    """Run measurement ``measure`` on one run file; never raises for a failure."""
    from wfm import api

    t0 = time.perf_counter()
    try:
        spec = MEASURES[measure]
        group = spec["group"](options)
        if group in store.read_attrs(path):
            return {"status": "complete", "how": "skipped", "error": None,
                    "seconds": 0.0, "solved": None}  # fmt: skip
        getattr(api, spec["function"])(path, **options)
        return {"status": "complete", "how": "ran", "error": None,
                "seconds": time.perf_counter() - t0, "solved": None}  # fmt: skip
    except Exception as exc:
        return {"status": "failed", "how": "ran", "error": _one_line(exc),
                "seconds": time.perf_counter() - t0, "solved": None}  # fmt: skip


def _local_entropy_group(options):
    reference = options.get("reference", "solution")
    name = options.get("name") or (
        reference if options.get("method", "bp") == "bp" else f"{reference}_exact"
    )
    return f"/local_entropy/{name}"


#: measurements ``sweep_measure`` can run: the API function and its output group
MEASURES = {
    "local-entropy": {
        "function": "local_entropy_of_run",
        "group": _local_entropy_group,
        "options": ("method", "reference", "name", "distances", "allow_errors"),
    },
}


# -------------------------------------------------------------- local pool
@dataclass
class _Task:
    key: str
    fn: object
    args: tuple


def _watch_parent(parent_pid):
    """Stop this worker (SIGTERM: the run checkpoints and stops) when the sweep's
    process dies, so a killed sweep leaves no orphan holding run locks."""

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(KILL_GRACE_S)
                os._exit(1)
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()


def _limit_threads(threads):
    """``threads`` numba threads in this worker: jobs x threads <= cores (results
    depend on the learner's ``shards``, never on the thread count)."""
    if "numba" in sys.modules:
        import numba

        with contextlib.suppress(Exception):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    else:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)


def _worker_main(conn, parent_pid, threads):
    # Ctrl-C reaches the whole process group: a running point checkpoints (the
    # API's handler); an idle worker ignores it and waits for the parent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the sweep's handler
    _limit_threads(threads)
    _watch_parent(parent_pid)
    while True:
        try:
            if not conn.poll(0.2):
                if os.getppid() != parent_pid:
                    return  # the sweep died: nobody will send work
                continue
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = task.fn(*task.args)
        except BaseException as exc:  # the task functions catch; this is a backstop
            result = {"status": "failed", "error": _one_line(exc), "solved": None}
        try:
            conn.send((task.key, result))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, mp, threads):
        parent, child = mp.Pipe()
        self.conn = parent
        self.proc = mp.Process(
            target=_worker_main, args=(child, os.getpid(), threads), daemon=True
        )
        self.proc.start()
        child.close()
        self.task = None
        self.started = 0.0
        self.killed_at = None
        self.timed_out = False

    def send(self, task):
        self.task, self.started = task, time.monotonic()
        self.killed_at, self.timed_out = None, False
        self.conn.send(task)

    def signal(self, signum):
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(self.proc.pid, signum)

    def stop(self):
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.proc.join(timeout=KILL_GRACE_S)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _mp_context():
    import multiprocessing

    # fork: workers inherit the parent's registries (learners added at run time) and
    # start in milliseconds; spawn where fork does not exist
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _run_local(tasks, jobs, timeout, on_start, on_done):
    """Run ``tasks`` on ``jobs`` worker processes; ``on_done(key, result)`` each."""
    mp = _mp_context()
    threads = max(1, _default_jobs() // jobs)
    pending = deque(tasks)
    workers: list[_Worker] = []
    from multiprocessing.connection import wait

    def finish(w, result):
        task = w.task
        w.task = None
        on_done(task.key, result)

    try:
        while pending or any(w.task for w in workers):
            while pending and len(workers) < jobs:
                workers.append(_Worker(mp, threads))
            for w in workers:
                if w.task is None and pending:
                    task = pending.popleft()
                    w.send(task)
                    on_start(task.key)
            busy = [w for w in workers if w.task is not None]
            ready = wait([w.conn for w in busy], timeout=0.2)
            for w in busy:
                if w.conn not in ready:
                    continue
                try:
                    _, result = w.conn.recv()
                except (EOFError, OSError):
                    w.proc.join(timeout=KILL_GRACE_S)
                    code = w.proc.exitcode
                    error = (
                        f"timeout after {timeout:g} s (worker killed)"
                        if w.timed_out
                        else f"worker died (exit code {code})"
                    )
                    finish(w, {"status": "failed", "error": error, "solved": None})
                    workers.remove(w)
                    w.conn.close()
                    continue
                if w.timed_out:
                    result = {
                        **result, "status": "failed",
                        "error": f"timeout after {timeout:g} s (checkpoint saved; "
                        "a re-run resumes it)",
                    }  # fmt: skip
                finish(w, result)
            now = time.monotonic()
            for w in list(workers):
                if w.task is None or timeout is None:
                    continue
                if not w.timed_out and now - w.started > timeout:
                    w.timed_out, w.killed_at = True, now
                    w.signal(signal.SIGTERM)  # the run checkpoints and stops
                elif w.timed_out and now - w.killed_at > KILL_GRACE_S:
                    w.signal(signal.SIGKILL)
                    w.killed_at = now + 3600  # once
    except KeyboardInterrupt:
        _interrupt(workers, finish)
        raise
    finally:
        for w in workers:
            if w.task is None:
                w.stop()


def _interrupt(workers, finish):
    """Ctrl-C: every running point checkpoints and stops; collect what they say."""
    from multiprocessing.connection import wait

    busy = [w for w in workers if w.task is not None]
    for w in busy:
        w.signal(signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_S
    while busy and time.monotonic() < deadline:
        for conn in wait([w.conn for w in busy], timeout=0.2):
            w = next(w for w in busy if w.conn is conn)
            try:
                _, result = conn.recv()
            except (EOFError, OSError):
                result = {"status": "interrupted", "error": "stopped", "solved": None}
            finish(w, result)
            busy.remove(w)
    for w in busy:
        w.signal(signal.SIGKILL)
        w.proc.join()
        finish(w, {"status": "interrupted", "error": "killed", "solved": None})


# -------------------------------------------------------------------- dask
def _dask_client(scheduler, jobs, connect_timeout):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "--scheduler needs dask.distributed: pip install 'wfm[dist]'"
        ) from None
    if scheduler == "local-cluster":
        cluster = LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=False,
            dashboard_address=None,
        )  # fmt: skip
        return Client(cluster), cluster
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise ConfigError(
            f"scheduler must be tcp://HOST:PORT or local-cluster, got {scheduler!r}"
        )
    try:
        client = Client(scheduler, timeout=f"{connect_timeout}s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"scheduler {scheduler} did not answer within {connect_timeout:g} s "
            f"({type(exc).__name__}); start it with 'dask scheduler' or check the "
            "address"
        ) from None
    return client, None


def _run_dask(tasks, client, on_start, on_done, out, transfer):
    from distributed import as_completed

    futures = {}
    for task in tasks:
        fut = client.submit(task.fn, *task.args, key=f"wfm-{task.key}", pure=False)
        futures[fut] = task
        on_start(task.key)
    try:
        for fut in as_completed(list(futures)):
            task = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:
                result = {"status": "failed", "error": _one_line(exc), "solved": None}
            if transfer == "client" and "file_bytes" in result:
                _write_bytes_atomic(out / task.key, result.pop("file_bytes"))
            on_done(task.key, result)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise


def _write_bytes_atomic(path: Path, data: bytes):
    tmp = path.with_name(path.name + ".transfer.tmp")
    with store._io(path, "write"):
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


# ------------------------------------------------------------------- sweep
@dataclass
class SweepResult:
    """What a sweep did.

    Attributes
    ----------
    out : Path
    points : int
    skipped : int
        Complete before this call.
    ran, resumed : int
        Completed now, from scratch or from a checkpoint.
    failed : list of dict
        ``{"file", "error"}`` per point that failed now.
    interrupted : bool
        Stopped by Ctrl-C.
    solved : int
        Complete points whose learner reached its goal (all complete points).
    """

    out: Path
    points: int = 0
    skipped: int = 0
    ran: int = 0
    resumed: int = 0
    failed: list = field(default_factory=list)
    interrupted: bool = False
    solved: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "out": str(self.out), "points": self.points, "skipped": self.skipped,
            "ran": self.ran, "resumed": self.resumed, "failed": self.failed,
            "interrupted": self.interrupted, "solved": self.solved,
            "seconds": self.seconds,
        }  # fmt: skip


class _Progress:
    """One bar for the sweep: done / failed / running, ETA from the completed."""

    def __init__(self, total, initial, enabled, what):
        self.done, self.failed, self.running = initial, 0, 0
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=initial, desc=what, unit="pt",
                dynamic_ncols=True, file=sys.stderr,
            )  # fmt: skip
            self._post()

    def _post(self):
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"done {self.done}, failed {self.failed}, running {self.running}",
                refresh=True,
            )

    def start(self):
        self.running += 1
        self._post()

    def end(self, ok):
        self.running -= 1
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self.bar is not None:
            self.bar.update(1)
        self._post()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _default_jobs():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _check_options(jobs, timeout, scheduler, transfer, checkpoint_seconds):
    if jobs is not None and (isinstance(jobs, bool) or int(jobs) != jobs or jobs < 1):
        raise ConfigError(f"jobs must be an integer >= 1, got {jobs}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be > 0 seconds, got {timeout}")
    if timeout is not None and scheduler is not None:
        raise ConfigError(
            "--timeout works with the local pool only (dask cannot kill a running "
            "task); set limits on the dask workers instead"
        )
    if transfer not in ("shared", "client"):
        raise ConfigError(f"transfer must be shared or client, got {transfer!r}")
    if transfer == "client" and scheduler is None:
        raise ConfigError("transfer client needs a --scheduler (dask)")
    if not checkpoint_seconds > 0:
        raise ConfigError(f"checkpoint_seconds must be > 0, got {checkpoint_seconds}")


@contextlib.contextmanager
def _executor(scheduler, jobs, connect_timeout):
    """``None`` (the local pool) or a connected dask Client, closed on exit."""
    if scheduler is None:
        yield None
        return
    client, cluster = _dask_client(scheduler, jobs, connect_timeout)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _stop_on_sigterm():
    """SIGTERM stops the sweep like Ctrl-C (running points checkpoint, the manifest
    is written); only in the main thread, where signal handlers live."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _execute(tasks, *, client, out, jobs, timeout, transfer, progress, what,
             on_done, total, initial):  # fmt: skip
    bar = _Progress(total, initial, progress, what)
    interrupted = False

    def done(key, result):
        on_done(key, result)
        bar.end(result.get("status") == "complete")

    try:
        with _stop_on_sigterm():
            if client is None:
                _run_local(tasks, jobs, timeout, lambda key: bar.start(), done)
            else:
                _run_dask(tasks, client, lambda key: bar.start(), done, out, transfer)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    return interrupted


def sweep(
    plan: SweepPlan,
    out,
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    scheduler: str | None = None,
    transfer: str = "shared",
    connect_timeout: float = SCHEDULER_TIMEOUT_S,
    checkpoint_seconds: float = 5.0,
    progress: bool = False,
) -> SweepResult:
    """Run every point of ``plan`` into folder ``out``: skip complete, resume
    partial, record failures; see the module docstring.

    Parameters
    ----------
    plan : SweepPlan
        From :func:`load_plan`.
    out : path-like
        Output folder (created). A folder holding another sweep (other template
        or grid keys), or run files without a manifest, is refused.
    jobs : int, optional
        Local worker processes (default: one per core) or LocalCluster workers.
    timeout : float, optional
        Seconds per point (local pool only); the point is stopped and recorded
        failed, its checkpoint kept.
    scheduler : str, optional
        ``"tcp://host:port"`` of a running dask scheduler, or ``"local-cluster"``.
    transfer : {"shared", "client"}
        With a scheduler: workers write into ``out`` (shared filesystem) or send
        the file back to this process.
    connect_timeout : float
        Seconds to wait for the scheduler.
    checkpoint_seconds : float
        Checkpoint cadence of each run.
    progress : bool
        One progress bar on stderr.

    Returns
    -------
    SweepResult

    Raises
    ------
    ConfigError
        Bad options, a folder of another sweep, a scheduler that does not answer.
    """
    jobs = _default_jobs() if jobs is None else jobs
    _check_options(jobs, timeout, scheduler, transfer, checkpoint_seconds)
    out = Path(out)
    head = plan.manifest_head()
    manifest = _read_manifest(out)
    _check_folder(out, head, manifest, {point_name(s) for *_, s in plan.points})
    # connect first: a scheduler that does not answer leaves nothing written
    with _executor(scheduler, jobs, connect_timeout) as client:
        return _sweep(plan, out, head, manifest, client, jobs, timeout, transfer,
                      checkpoint_seconds, progress)  # fmt: skip


def _sweep(plan, out, head, manifest, client, jobs, timeout, transfer,
           checkpoint_seconds, progress):  # fmt: skip
    t0 = time.perf_counter()
    with store._io(out, "create"):
        out.mkdir(parents=True, exist_ok=True)
    entries = dict((manifest or {}).get("points", {}))
    configs = {}
    for grid_values, seed, spec in plan.points:
        name = point_name(spec)
        configs[name] = spec.to_dict()
        entry = entries.get(name, {})
        entries[name] = {
            "grid": grid_values, "seed": seed, "hash": spec.short_hash(),
            "status": entry.get("status", "pending"), "solved": entry.get("solved"),
            "error": entry.get("error"),
        }  # fmt: skip
    result = SweepResult(out=out, points=len(configs))
    todo = []
    for name, config in configs.items():
        path = out / name
        if path.exists():
            attrs = store.read_attrs(path).get("/", {})
            if attrs.get("status") == "complete":
                result.skipped += 1
                solved = store.read_attrs(path).get("/solution", {}).get("solved")
                entries[name].update(status="complete", error=None, solved=solved)
                continue
        if client is not None and transfer == "client":
            todo.append(_Task(name, _run_point_remote,
                              (config, name, checkpoint_seconds)))  # fmt: skip
        else:
            todo.append(_Task(name, run_point,
                              (config, str(path), checkpoint_seconds)))  # fmt: skip
    state = {
        **head, "wfm_version": __version__,
        "created": (manifest or {}).get("created", _now()), "points": entries,
    }  # fmt: skip
    if manifest is not None:  # the union of every grid run in this folder
        state["grid"] = _union_grid(manifest.get("grid", {}), head["grid"])
        state["seeds"] = sorted(set(manifest.get("seeds", [])) | set(head["seeds"]))
    state["updated"] = _now()
    _write_json_atomic(out / MANIFEST, state)
    last = [time.monotonic()]

    def on_done(name, r):
        entry = entries[name]
        status = r.get("status")
        entry.update(status=status, solved=r.get("solved"), error=r.get("error"))
        if status == "complete":
            result.resumed += r.get("how") == "resumed"
            result.ran += r.get("how") != "resumed"
        else:
            result.failed.append({"file": name, "error": r.get("error")})
            _append_failure(out, name, status, r.get("error"))
        if time.monotonic() - last[0] > _MANIFEST_EVERY_S:
            state["updated"] = _now()
            _write_json_atomic(out / MANIFEST, state)
            last[0] = time.monotonic()

    result.interrupted = _execute(
        todo, client=client, out=out, jobs=jobs, timeout=timeout,
        transfer=transfer, progress=progress, what="sweep", on_done=on_done,
        total=len(configs), initial=result.skipped,
    )  # fmt: skip
    state["updated"] = _now()
    _write_json_atomic(out / MANIFEST, state)
    if not result.interrupted:  # warm the catalog cache: `wfm table` is then instant
        with contextlib.suppress(RunFileError, OSError):
            catalog_records(out, jobs=jobs)
    result.solved = sum(
        1 for e in entries.values() if e["status"] == "complete" and e.get("solved")
    )
    result.seconds = time.perf_counter() - t0
    return result


def _union_grid(old: dict, new: dict) -> dict:
    out = {}
    for key in new:
        values = list(old.get(key, []))
        values += [v for v in new[key] if v not in values]
        out[key] = values
    return out


def _append_failure(out: Path, name, status, error):
    line = json.dumps({"file": name, "status": status, "error": error, "time": _now()})
    with contextlib.suppress(OSError), open(out / FAILURES, "a") as f:
        f.write(line + "\n")


def sweep_measure(
    measure: str,
    paths,
    *,
    options: dict | None = None,
    jobs: int | None = None,
    timeout: float | None = None,
    scheduler: str | None = None,
    connect_timeout: float = SCHEDULER_TIMEOUT_S,
    progress: bool = False,
) -> SweepResult:
    """Run a measurement over existing run files, on the sweep's pool or dask.

    ``measure`` is a key of :data:`MEASURES` (``"local-entropy"``: the API's
    :func:`wfm.api.local_entropy_of_run` with ``options``). Files that hold the
    measurement's group already are skipped; failures are returned (and appended to
    ``failures.jsonl`` beside each file), never raised. Workers write into the files,
    so with a scheduler they must see them (a shared filesystem).
    """
    if measure not in MEASURES:
        raise ConfigError(
            f"measure must be one of {', '.join(MEASURES)}; got {measure!r}"
        )
    options = dict(options or {})
    bad = sorted(set(options) - set(MEASURES[measure]["options"]))
    if bad:
        raise ConfigError(
            f"{bad[0]} is not an option of {measure}; accepted: "
            f"{', '.join(MEASURES[measure]['options'])}"
        )
    jobs = _default_jobs() if jobs is None else jobs
    _check_options(jobs, timeout, scheduler, "shared", 1.0)
    paths = [Path(p) for p in paths]
    if not paths:
        raise ConfigError(f"sweep-measure {measure} needs at least one run file")
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise RunFileError(f"{missing[0]}: no such file")
    result = SweepResult(out=paths[0].parent, points=len(paths))
    group_of = MEASURES[measure]["group"]
    todo = []
    for p in paths:
        if group_of(options) in store.read_attrs(p):
            result.skipped += 1
        else:
            todo.append(_Task(str(p), measure_point, (measure, str(p), options)))

    def on_done(key, r):
        if r.get("status") == "complete":
            result.ran += 1
        else:
            result.failed.append({"file": key, "error": r.get("error")})
            _append_failure(Path(key).parent, Path(key).name, "failed", r.get("error"))

    t0 = time.perf_counter()
    with _executor(scheduler, jobs, connect_timeout) as client:
        result.interrupted = _execute(
            todo, client=client, out=result.out, jobs=jobs, timeout=timeout,
            transfer="shared", progress=progress, what=measure, on_done=on_done,
            total=len(paths), initial=result.skipped,
        )  # fmt: skip
    result.seconds = time.perf_counter() - t0
    return result


# ----------------------------------------------------------------- catalog
_ROOT_ATTRS = ("status", "config", "wfm_version", "created", "git_commit",
               "format_version")  # fmt: skip


def _record(path: Path) -> dict:
    groups = store.read_attrs(path, root=_ROOT_ATTRS)
    root = groups.get("/", {})
    rec = {"path": str(path), "file": path.name, "status": root.get("status")}
    for key in ("wfm_version", "created", "git_commit", "format_version"):
        rec[key] = root.get(key)
    try:
        config = json.loads(root.get("config", "null")) or {}
    except ValueError:
        config = {}
    rec.update(_flat(config))
    for name, attrs in groups.items():
        if name == "/":
            continue
        prefix = name.strip("/").replace("/", ".")
        if name == "/trace":
            rec["trace.length"] = attrs.get("length")
            continue
        for k, v in attrs.items():
            if isinstance(v, (list, dict)):
                continue
            rec[f"{prefix}.{k}"] = v
    return rec


CATALOG_CACHE = ".wfm-catalog.json"
_PARALLEL_ABOVE = 200  # files to read before the catalog uses worker processes


def _records_of(paths) -> list[dict]:
    out = []
    for p in paths:
        p = Path(p)
        try:
            out.append(_record(p))
        except RunFileError as exc:
            out.append({"path": str(p), "file": p.name, "status": "unreadable",
                        "error": _one_line(exc)})  # fmt: skip
    return out


def _read_records(paths, jobs) -> list[dict]:
    if jobs <= 1 or len(paths) < _PARALLEL_ABOVE:
        return _records_of(paths)
    chunks = [paths[i::jobs] for i in range(jobs)]
    with _mp_context().Pool(jobs) as pool:
        parts = pool.map(_records_of, chunks)
    by_path = {r["path"]: r for part in parts for r in part}
    return [by_path[str(p)] for p in paths]


def _load_cache(folder: Path) -> dict:
    try:
        cache = json.loads((folder / CATALOG_CACHE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(cache, dict) or cache.get("wfm_version") != __version__:
        return {}  # a new wfm may read more columns
    return cache.get("files", {})


def catalog_records(
    path, pattern: str = "*.h5", *, jobs: int | None = None, cache: bool = True
) -> list[dict]:
    """One record per run file (``pattern``, default ``*.h5``) of folder ``path``.

    A record holds path, status, provenance, the resolved config flattened
    (``model.n``, ``data.alpha``, ``learner.dr``, ``seed``, ...), the attributes
    of ``/solution`` (``solution.solved``, ``solution.wall_time_s``, ...), the
    trace length and the attributes of measurement groups
    (``local_entropy.solution.total_entropy``, ...). Each file is opened once and
    only attributes are read (:func:`wfm.store.read_attrs`); unreadable files give
    a record with status ``"unreadable"`` and an ``error``.

    Parameters
    ----------
    path : path-like
        The folder.
    pattern : str
    jobs : int, optional
        Processes reading files (default one per core; only above 200 files).
    cache : bool
        Keep the records in ``path/.wfm-catalog.json`` keyed by file name, size
        and modification time: a file that did not change is not opened again.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise RunFileError(f"{folder}: no such folder")
    jobs = _default_jobs() if jobs is None else int(jobs)
    paths = sorted(folder.glob(pattern))
    cached = _load_cache(folder) if cache else {}
    stats, todo, records = {}, [], {}
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        stats[p.name] = [st.st_size, st.st_mtime_ns]
        hit = cached.get(p.name)
        if hit is not None and hit.get("stat") == stats[p.name]:
            records[p.name] = {**hit["record"], "path": str(p)}
        else:
            todo.append(p)
    for rec in _read_records(todo, jobs):
        records[Path(rec["path"]).name] = rec
    if cache and todo:
        files = {
            name: {"stat": stats[name], "record": rec}
            for name, rec in records.items()
            if name in stats and rec.get("status") == "complete"
        }
        with contextlib.suppress(OSError, RunFileError):
            _write_json_atomic(
                folder / CATALOG_CACHE, {"wfm_version": __version__, "files": files}
            )
    return [records[p.name] for p in paths if p.name in records]


def catalog(path, pattern: str = "*.h5", **kwargs):
    """:func:`catalog_records` as a pandas DataFrame when pandas is installed, else
    the list of records."""
    records = catalog_records(path, pattern, **kwargs)
    try:
        import pandas as pd
    except ImportError:
        return records
    return pd.DataFrame.from_records(records)


# ------------------------------------------------------- filters, aggregates
_WHERE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(==|!=|>=|<=|=|>|<)\s*(.+?)\s*$")
_OPS = {
    "==": lambda a, b: a == b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def parse_where(text: str) -> list[tuple[str, str, object]]:
    """``"alpha>=0.6 and n==1001"`` -> ``[("alpha", ">=", 0.6), ("n", "==", 1001)]``.

    Clauses ``COLUMN OP VALUE`` (OP one of == = != >= <= > <), joined by ``and`` or
    ``,``; values parsed as TOML (numbers, true/false, quoted or bare strings).
    Nothing is evaluated as code.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"where must be COLUMN OP VALUE, got {text!r}")
    clauses = []
    for part in re.split(r"\s+and\s+|,", text.strip()):
        m = _WHERE.match(part)
        if not m or m.group(3)[0] in "=<>!":
            raise ConfigError(
                f"where clause {part.strip()!r} must look like COLUMN OP VALUE with "
                "OP one of == != >= <= > < (clauses joined by 'and')"
            )
        col, op, raw = m.groups()
        value = parse_value(raw)
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        clauses.append((col, op, value))
    return clauses


def _resolve_column(records, name):
    """``alpha`` -> ``data.alpha``: an exact column, else the one ending in
    ``.name``."""
    columns = set()
    for r in records:
        columns.update(r)
    if name in columns:
        return name
    matches = sorted(c for c in columns if c.endswith("." + name))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        if not records:
            return name
        raise ConfigError(
            f"{name} is not a column; columns: {', '.join(sorted(columns))}"
        )
    raise ConfigError(f"{name} is ambiguous; use one of {', '.join(matches)}")


def _is_number(v):
    return isinstance(v, (int, float, np.number))


def _check_comparable(records, col, op, value):
    """A text value against a numeric column (or the reverse) is a typo, not a
    filter that matches nothing."""
    present = [r[col] for r in records if r.get(col) is not None]
    if not present:
        return
    numeric = all(_is_number(v) for v in present)
    textual = all(isinstance(v, str) for v in present)
    if (numeric and not _is_number(value)) or (textual and not isinstance(value, str)):
        kind = "numbers" if numeric else "text"
        raise ConfigError(
            f"where {col} {op} {value!r}: the column holds {kind}, the value does not"
        )


def filter_records(records, where) -> list[dict]:
    """Records matching every clause of ``where`` (a string or a list of strings).
    A record without the column, or with a value of another type, does not match."""
    clauses = []
    for w in [where] if isinstance(where, str) else list(where or []):
        clauses += parse_where(w)
    resolved = [(_resolve_column(records, c), op, v) for c, op, v in clauses]
    for col, op, value in resolved:
        _check_comparable(records, col, op, value)
    out = []
    for r in records:
        ok = True
        for col, op, value in resolved:
            x = r.get(col)
            try:
                ok = x is not None and bool(_OPS[op](x, value))
            except TypeError:
                ok = False
            if not ok:
                break
        if ok:
            out.append(r)
    return out


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple:
    """95 % Wilson score interval of a success probability (``(nan, nan)`` if n = 0)."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _numbers(values):
    return [float(v) for v in values if isinstance(v, (int, float, np.number))
            and not isinstance(v, bool) and math.isfinite(float(v))]  # fmt: skip


_FUNCS = {
    "mean": lambda xs: float(np.mean(xs)) if xs else math.nan,
    "median": lambda xs: float(np.median(xs)) if xs else math.nan,
    "min": lambda xs: min(xs) if xs else math.nan,
    "max": lambda xs: max(xs) if xs else math.nan,
    "sum": lambda xs: float(sum(xs)),
    "std": lambda xs: float(np.std(xs, ddof=1)) if len(xs) > 1 else math.nan,
    "sem": lambda xs: (
        float(np.std(xs, ddof=1) / math.sqrt(len(xs))) if len(xs) > 1 else math.nan
    ),
}


def _solved(rows):
    return [bool(r.get("solution.solved")) for r in rows]


#: aggregates without an argument (the rest are FUNC(column), FUNC in _FUNCS)
AGGREGATES = {
    "count": lambda rows: len(rows),
    "solved": lambda rows: int(sum(_solved(rows))),
    "success_rate": lambda rows: float(np.mean(_solved(rows))) if rows else math.nan,
    "wilson_low": lambda rows: wilson_interval(sum(_solved(rows)), len(rows))[0],
    "wilson_high": lambda rows: wilson_interval(sum(_solved(rows)), len(rows))[1],
}
_AGG = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([A-Za-z_][\w.\-]*)\s*\))?\s*$")


def _split_list(text):
    if isinstance(text, (list, tuple)):
        return [str(t).strip() for t in text if str(t).strip()]
    return [t.strip() for t in re.split(r",(?![^()]*\))", text or "") if t.strip()]


def aggregate(records, group_by, agg=("count", "success_rate")) -> list[dict]:
    """Group records by the columns ``group_by`` and aggregate each group.

    Parameters
    ----------
    records : list of dict
    group_by : str or list of str
        Columns (bare names resolved as in :func:`filter_records`).
    agg : str or list of str
        ``count``, ``solved``, ``success_rate`` (fraction of ``solution.solved``),
        ``wilson_low``, ``wilson_high`` (its 95 % Wilson interval), or
        ``FUNC(column)`` with FUNC one of mean, median, min, max, sum, std, sem
        (over the finite numbers of the column).

    Returns
    -------
    list of dict
        One row per group (sorted by the group values): the group columns (as
        given) and one column per aggregate (named as written, e.g.
        ``median(wall_time_s)``).
    """
    keys = _split_list(group_by)
    aggs = _split_list(agg) or ["count", "success_rate"]
    cols = [_resolve_column(records, k) for k in keys]
    plan = []
    for a in aggs:
        m = _AGG.match(a)
        if not m:
            raise ConfigError(f"aggregate {a!r} must be NAME or FUNC(column)")
        fn, arg = m.groups()
        if arg is None:
            if fn not in AGGREGATES:
                raise ConfigError(
                    f"aggregate {a!r}: must be one of {', '.join(AGGREGATES)} or "
                    f"FUNC(column) with FUNC one of {', '.join(_FUNCS)}"
                )
            plan.append((a.replace(" ", ""), AGGREGATES[fn], None))
        else:
            if fn not in _FUNCS:
                raise ConfigError(
                    f"aggregate {a!r}: FUNC must be one of {', '.join(_FUNCS)}"
                )
            plan.append((f"{fn}({arg})", _FUNCS[fn], _resolve_column(records, arg)))
    groups: dict[tuple, list] = {}
    for r in records:
        groups.setdefault(tuple(r.get(c) for c in cols), []).append(r)
    out = []
    for gkey in sorted(groups, key=lambda t: tuple((v is None, str(type(v)), v)
                                                   for v in t)):  # fmt: skip
        rows = groups[gkey]
        row = dict(zip(keys, gkey, strict=True))
        for name, fn, col in plan:
            row[name] = (
                fn(rows) if col is None else fn(_numbers(r.get(col) for r in rows))
            )
        out.append(row)
    return out


def table(path, *, where=None, group_by=None, agg=None, columns=None) -> list[dict]:
    """``wfm table``: the catalog of folder ``path``, filtered by ``where`` and
    grouped/aggregated (:func:`aggregate`) when ``group_by`` is given; without it, one
    row per run with ``columns`` (default: file, status, the grid-like config columns
    and the solution's outcome)."""
    records = catalog_records(path)
    if where:
        records = filter_records(records, where)
    if group_by:
        return aggregate(records, group_by, agg or ("count", "success_rate"))
    if agg:
        raise ConfigError("--agg needs --group-by")
    cols = _split_list(columns) if columns else _default_columns(records)
    resolved = [_resolve_column(records, c) for c in cols]
    return [{c: r.get(rc) for c, rc in zip(cols, resolved, strict=True)}
            for r in records]  # fmt: skip


_DEFAULT_COLUMNS = (
    "file", "status", "model.name", "model.n", "model.k", "data.alpha",
    "learner.name", "seed", "solution.solved", "solution.train_errors",
    "solution.iterations", "solution.wall_time_s",
)  # fmt: skip


def _default_columns(records):
    present = set()
    for r in records:
        present.update(r)
    return [c for c in _DEFAULT_COLUMNS if c in present]
