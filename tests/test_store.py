"""Tests of the HDF5 run format (format 2): round trip, locks, refusals, corruption,
checkpoint/resume after kill -9, crash-safe append_group, format-1 compatibility.

The numbered tests reproduce the failures of the "run files lose data" issue.
"""

import ast
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from wfm._version import __version__
from wfm.errors import (
    RunCorruptError,
    RunExistsError,
    RunFileError,
    RunIncompleteError,
    RunInterrupted,
    RunLockedError,
)
from wfm.store import (
    FORMAT_VERSION,
    PROVENANCE_KEYS,
    Run,
    RunWriter,
    append_group,
    checkpoint_path,
    git_commit,
    lock,
    lock_path,
    open_run,
    partial_path,
    validate_run,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
CHILD_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
    ),
}

FIELDS = {
    "iteration": ("int64", "BP sweep", "1"),
    "gamma": ("float64", "coupling to the reference", "1"),
    "solved": ("bool", "zero training errors", "1"),
}
DESCRIPTIONS = {
    "patterns": ("input patterns xi", "1"),
    "labels": ("labels sigma", "1"),
    "weights": ("binary weights", "1"),
}


def write_run(path, *, n=51, p=26, seed=0, records=5, force=False, complete=True):
    """A small complete run written with RunWriter; returns its arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "patterns": rng.choice(np.array([-1, 1], np.int8), size=(p, n)),
        "labels": rng.choice(np.array([-1, 1], np.int8), size=p),
        "weights": rng.choice(np.array([-1, 1], np.int8), size=n),
    }
    config = {"model": {"name": "perceptron-binary", "n": n}, "seed": seed}
    with RunWriter(
        path,
        config=config,
        root_attrs={"seed": seed, "command_line": "wfm run"},
        force=force,
        trace_fields=FIELDS,
    ) as w:
        w.write_data(
            {"patterns": arrays["patterns"], "labels": arrays["labels"]},
            {"kind": "random", "stored": True},
            DESCRIPTIONS,
        )
        for i in range(records):
            w.append_trace({"iteration": i, "gamma": 0.5 * i, "solved": i == 4})
        w.write_solution(
            {"weights": arrays["weights"]}, {"converged": True}, DESCRIPTIONS
        )
        if complete:
            w.complete()
    return arrays


def folder_bytes(folder) -> dict:
    """Every file of ``folder`` -> its bytes (to show a refusal touched nothing)."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def assert_one_line(exc_info, *fragments):
    message = str(exc_info.value)
    assert "\n" not in message and message
    for fragment in fragments:
        assert fragment in message, message


# ---------------------------------------------------------------- round trip
def test_round_trip_provenance_dtypes_descriptions(tmp_path):
    out = tmp_path / "r.h5"
    arrays = write_run(out)
    assert sorted(os.listdir(tmp_path)) == ["r.h5"]  # no .partial/.ckpt/.lock left
    run = open_run(out)
    assert run.status == "complete" and run.format_version == FORMAT_VERSION == 2
    for key in PROVENANCE_KEYS:
        assert run.attrs[key] not in ("", None), key
    assert run.attrs["wfm_version"] == __version__
    assert run.attrs["git_commit"] and run.attrs["git_commit"] != "none"
    assert run.attrs["seed"] == 0 and run.attrs["command_line"] == "wfm run"
    assert run.config_dict == {
        "model": {"name": "perceptron-binary", "n": 51},
        "seed": 0,
    }
    np.testing.assert_array_equal(run.patterns, arrays["patterns"])
    np.testing.assert_array_equal(run.labels, arrays["labels"])
    np.testing.assert_array_equal(run.weights, arrays["weights"])
    assert run.teacher is None and run.solution.attrs["converged"] is True
    trace = run.trace
    assert trace["iteration"].dtype == np.int64
    assert trace["gamma"].dtype == np.float64 and trace["solved"].dtype == np.bool_
    np.testing.assert_array_equal(trace["iteration"], np.arange(5))
    np.testing.assert_array_equal(trace["solved"], [False] * 4 + [True])
    assert run.group("trace").dataset_attrs["gamma"]["description"] == (
        "coupling to the reference"
    )
    summary = run.summary()
    assert summary["trace"]["last"]["iteration"] == 4
    assert json.loads(json.dumps(summary))["config"]["seed"] == 0
    with h5py.File(out) as f:
        datasets = []
        f.visititems(lambda k, o: datasets.append(o) or None)
        datasets = [o for o in datasets if isinstance(o, h5py.Dataset)]
        assert len(datasets) == 6
        for ds in datasets:
            assert ds.attrs["description"] and ds.attrs["units"], ds.name
            assert ds.fletcher32, ds.name


def test_large_arrays_are_compressed_and_checksummed(tmp_path):
    out = tmp_path / "big.h5"
    write_run(out, n=201, p=100)
    with h5py.File(out) as f:
        assert f["data/patterns"].compression == "gzip"  # 20 KB > 4 KiB
        assert f["data/labels"].compression is None and f["data/labels"].fletcher32


def test_trace_is_typed_buffered_and_flushed(tmp_path):
    out = tmp_path / "t.h5"
    with RunWriter(
        out, config={}, root_attrs={}, trace_fields=FIELDS, flush_seconds=1e9
    ) as w:
        for i in range(3):
            w.append_trace({"iteration": i, "gamma": 1.0, "solved": False})
        assert w.trace_length == 3 and w.file["trace/iteration"].shape == (0,)
        w.append_trace({"iteration": np.int32(3), "solved": np.bool_(True)})  # no gamma
        w.flush()
        assert w.file["trace/iteration"].shape == (4,)
        with pytest.raises(ValueError, match="'phase' not declared"):
            w.append_trace({"iteration": 4, "phase": "focusing"})
        with pytest.raises(ValueError, match="not a valid int64"):
            w.append_trace({"iteration": 4.5, "solved": False})
        with pytest.raises(ValueError, match="lacks 'solved'"):
            w.append_trace({"iteration": 4})
        assert w.trace_length == 4  # rejected records are not half-appended
        w.flush_seconds = 0.0
        w.append_trace({"iteration": 4, "gamma": 2.0, "solved": True})
        assert w.file["trace/gamma"].shape == (5,)  # flushed at once
        w.complete()
    trace = open_run(out).trace
    np.testing.assert_array_equal(trace["iteration"], np.arange(5))
    assert trace["iteration"].dtype == np.int64
    assert np.isnan(trace["gamma"][3]) and trace["gamma"][4] == 2.0


def test_dataset_without_description_is_a_value_error(tmp_path):
    out = tmp_path / "d.h5"
    with RunWriter(out, config={}, root_attrs={}) as w:
        with pytest.raises(ValueError, match="/data/patterns needs a description"):
            w.write_data({"patterns": np.ones((2, 3))}, {})
        with pytest.raises(ValueError, match="/solution/weights needs a description"):
            w.write_solution({"weights": np.ones(3)}, {}, {"weights": ("w", "")})
        w.complete()
    before = out.read_bytes()
    with pytest.raises(ValueError, match="/theory/x/a needs a description"):
        append_group(out, "/theory/x", {"a": [1.0]}, {})
    assert out.read_bytes() == before
    with pytest.raises(ValueError, match="dtype one of int64, float64, bool"):
        RunWriter(
            out, config={}, root_attrs={}, trace_fields={"x": ("int32", "x", "1")}
        )
    with pytest.raises(ValueError, match="may not set status"):
        RunWriter(out, config={}, root_attrs={"status": "complete"})


# ---------------------------------------------------------------- (1) locks
HOLD_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from wfm.store import RunWriter
    fields = {"iteration": ("int64", "sweep", "1")}
    with RunWriter(sys.argv[1], config={"who": "first"}, root_attrs={},
                   trace_fields=fields, flush_seconds=0) as w:
        w.write_data({"x": np.arange(10)}, {}, {"x": ("x", "1")})
        for i in range(3):
            w.append_trace({"iteration": i})
        w.checkpoint({"i": 3})
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(3, 6):
            w.append_trace({"iteration": i})
        w.complete()
    print("done", flush=True)
    """
)


def test_1_second_writer_on_same_out_is_refused(tmp_path):
    out = tmp_path / "same.h5"
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
    )
    try:
        assert first.stdout.readline().strip() == "ready"
        before = folder_bytes(tmp_path)
        assert set(before) == {"same.h5.lock", "same.h5.partial", "same.h5.ckpt"}
        second = RunWriter(out, config={"who": "second"}, root_attrs={}, force=True)
        with pytest.raises(RunLockedError) as exc_info:
            with second:
                pytest.fail("the second writer must not get in")
        assert_one_line(exc_info, str(out), f"pid {first.pid}", "another wfm process")
        with pytest.raises(RunLockedError):
            RunWriter.resume(out)
        with pytest.raises(RunLockedError):
            append_group(out, "/theory/x", {}, {}, create=True)
        assert folder_bytes(tmp_path) == before  # nothing touched
        first.stdin.write("go\n")
        first.stdin.flush()
        assert first.stdout.readline().strip() == "done"
        assert first.wait(20) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert sorted(os.listdir(tmp_path)) == ["same.h5"]
    run = open_run(out)
    assert run.status == "complete" and run.config_dict == {"who": "first"}
    np.testing.assert_array_equal(run.trace["iteration"], np.arange(6))
    validate_run(out)


def test_lock_is_exclusive_within_a_process_and_removed_on_release(tmp_path):
    out = tmp_path / "l.h5"
    with lock(out) as held:
        assert held.held and lock_path(out).read_text().strip() == str(os.getpid())
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            lock(out).acquire()
    assert not lock_path(out).exists()
    with lock(out):  # free again
        pass


# ---------------------------------------------------- (2) existing outputs
def test_2_existing_complete_file_needs_force_and_is_replaced_at_completion(tmp_path):
    out = tmp_path / "r.h5"
    old = write_run(out, seed=1)
    before = out.read_bytes()
    with pytest.raises(RunExistsError) as exc_info:
        write_run(out, seed=2)
    assert_one_line(exc_info, str(out), "--force")
    assert sorted(os.listdir(tmp_path)) == ["r.h5"] and out.read_bytes() == before
    with RunWriter(
        out, config={"seed": 2}, root_attrs={}, force=True, trace_fields=FIELDS
    ) as w:
        w.write_data({"patterns": np.zeros((2, 2))}, {}, DESCRIPTIONS)
        w.append_trace({"iteration": 0, "solved": False})
        w.checkpoint({"i": 1})
        assert out.read_bytes() == before  # old file intact until complete()
        np.testing.assert_array_equal(open_run(out).patterns, old["patterns"])
        w.complete()
    run = open_run(out)
    assert run.config_dict == {"seed": 2} and run.patterns.shape == (2, 2)
    assert sorted(os.listdir(tmp_path)) == ["r.h5"]


def test_2_existing_partial_needs_resume_or_force(tmp_path):
    out = tmp_path / "p.h5"
    with RunWriter(out, config={}, root_attrs={}, trace_fields=FIELDS) as w:
        w.append_trace({"iteration": 0, "solved": False})
        w.checkpoint({"i": 1})
        w.mark("interrupted", "SIGTERM")
    before = folder_bytes(tmp_path)
    with pytest.raises(RunExistsError) as exc_info:
        with RunWriter(out, config={}, root_attrs={}):
            pass
    assert_one_line(
        exc_info, str(partial_path(out)), f"wfm run --resume {out}", "--force"
    )
    assert folder_bytes(tmp_path) == before
    with RunWriter(out, config={"new": 1}, root_attrs={}, force=True) as w:
        w.complete()
    assert open_run(out).config_dict == {"new": 1}
    assert sorted(os.listdir(tmp_path)) == ["p.h5"]  # old partial and ckpt gone


# -------------------------------------------------------- (3) bad parents
def test_3_bad_parent_paths_are_one_line_run_file_errors(tmp_path):
    parent_file = tmp_path / "notes.txt"
    parent_file.write_text("a file, not a folder")
    for out in (parent_file / "r.h5", Path("/proc/wfm-test/r.h5"), Path("/proc/x.h5")):
        with pytest.raises(RunFileError) as exc_info:
            write_run(out)
        assert_one_line(exc_info, str(out))
        with pytest.raises(RunFileError) as exc_info:
            append_group(out, "/theory/x", {}, {}, create=True)
        assert_one_line(exc_info, str(out))
    assert parent_file.read_text() == "a file, not a folder"
    (tmp_path / "dir.h5").mkdir()
    with pytest.raises(RunFileError, match="is a folder"):
        write_run(tmp_path / "dir.h5", force=True)


DISK_FULL_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    from wfm.errors import RunFileError
    from wfm.store import RunWriter, append_group

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, resource.RLIM_INFINITY))
    big = {"x": np.random.default_rng(0).standard_normal(1_000_000)}  # 8 MB
    try:
        append_group(sys.argv[1], "/theory/x", big, {}, {"x": ("x", "1")})
    except RunFileError as exc:
        print(exc, flush=True)
    try:
        with RunWriter(sys.argv[1], config={}, root_attrs={}, force=True) as w:
            w.write_data(big, {}, {"x": ("x", "1")})
            w.complete()
    except RunFileError as exc:
        print(exc, flush=True)
    """
)


def test_3_full_disk_is_a_one_line_run_file_error(tmp_path):
    out = tmp_path / "full.h5"
    write_run(out)
    before = out.read_bytes()
    child = subprocess.run(
        [sys.executable, "-c", DISK_FULL_SCRIPT, str(out)],
        env=CHILD_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0 and not child.stderr, child.stderr
    lines = child.stdout.splitlines()
    assert len(lines) == 2, child.stdout
    for line in lines:
        assert str(tmp_path) in line and "not enough free space" in line
    assert out.read_bytes() == before
    assert open_run(partial_path(out)).status == "failed"


# ----------------------------------------------------------- (4) corruption
def zero_middle_of_dataset(path, name, nbytes=2048):
    """Overwrite ``nbytes`` in the middle of the stored bytes of dataset ``name``."""
    with h5py.File(path) as f:
        ds = f[name]
        chunks = [ds.id.get_chunk_info(i) for i in range(ds.id.get_num_chunks())]
    chunk = max(chunks, key=lambda c: c.size)
    assert chunk.size > nbytes + 512
    start = chunk.byte_offset + (chunk.size - nbytes) // 2
    with open(path, "r+b") as fh:
        fh.seek(start)
        fh.write(bytes(nbytes))


def test_4_zeroed_bytes_are_detected_and_never_appended_to(tmp_path):
    out = tmp_path / "c.h5"
    write_run(out, n=301, p=300)
    validate_run(out)
    zero_middle_of_dataset(out, "data/patterns")
    before = out.read_bytes()
    run = open_run(out)  # the structure is intact: opening works
    with pytest.raises(RunCorruptError) as exc_info:
        _ = run.patterns
    assert_one_line(exc_info, str(out), "/data/patterns", "--force")
    with pytest.raises(RunCorruptError) as exc_info:
        validate_run(out)
    assert_one_line(exc_info, str(out), "/data/patterns")
    with pytest.raises(RunCorruptError):
        append_group(out, "/theory/x", {"a": [1.0]}, {}, {"a": ("a", "1")})
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.h5"]
    np.testing.assert_array_equal(run.weights.shape, (301,))  # the rest still reads


def test_truncated_unknown_and_foreign_files_are_run_file_errors(tmp_path):
    out = tmp_path / "r.h5"
    write_run(out)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size // 3])
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all")
    for bad in (cut, text):
        with pytest.raises(RunFileError, match="truncated or not HDF5") as exc_info:
            open_run(bad)
        assert_one_line(exc_info, str(bad))
        with pytest.raises(RunFileError, match="truncated or not HDF5"):
            validate_run(bad)
    with pytest.raises(RunFileError, match="no such file"):
        open_run(tmp_path / "absent.h5")
    with h5py.File(out, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(RunFileError, match="format_version 99 is not supported"):
        open_run(out)
    with pytest.raises(RunFileError, match="format_version 99"):
        append_group(out, "/theory/x", {}, {})
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(RunFileError, match="no format_version"):
        open_run(foreign)


# --------------------------------------------------------- exits and marks
@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (RuntimeError("diverged"), "failed"),
        (KeyboardInterrupt(), "interrupted"),
        (RunInterrupted("SIGTERM"), "interrupted"),
    ],
)
def test_exception_in_writer_keeps_partial_and_checkpoint(tmp_path, exc, status):
    out = tmp_path / "e.h5"
    with pytest.raises(type(exc)):
        with RunWriter(
            out, config={}, root_attrs={}, trace_fields=FIELDS, flush_seconds=1e9
        ) as w:
            w.append_trace({"iteration": 1, "solved": False})
            w.checkpoint({"i": 1})
            w.append_trace({"iteration": 2, "solved": False})  # buffered only
            raise exc
    assert sorted(os.listdir(tmp_path)) == ["e.h5.ckpt", "e.h5.partial"]
    run = open_run(partial_path(out))
    assert run.status == status and type(exc).__name__ in run.attrs["error"]
    np.testing.assert_array_equal(run.trace["iteration"], [1, 2])  # flushed on exit
    w, state, _ = RunWriter.resume(out)
    with w:
        assert state == {"i": 1} and w.trace_length == 1
        w.complete()
    assert open_run(out).status == "complete"


# ----------------------------------------------------- checkpoints, resume
def test_checkpoint_round_trips_state_and_is_cheap(tmp_path):
    out = tmp_path / "s.h5"
    rng = np.random.default_rng(11)
    rng.random(5)
    big = rng.standard_normal(1_310_720)  # 10 MB
    state = {
        "messages": big,
        "weights": np.arange(7, dtype=np.int8),
        "rng": rng.bit_generator.state,  # 128-bit integers inside
        "gamma": float("inf"),
        "energy": float("nan"),
        "step": 12,
        "phase": "focusing",
        "schedule": [0.1, {"y": 3, "h": np.zeros((2, 2))}],
        "nothing": None,
    }
    with RunWriter(out, config={"c": 1}, root_attrs={"seed": 11}) as w:
        w.write_data({"x": np.arange(3)}, {}, {"x": ("x", "1")})
        t0 = time.perf_counter()
        w.checkpoint(state)
        elapsed = time.perf_counter() - t0
        w.mark("interrupted")
    assert elapsed < 5.0, f"a 10 MB checkpoint took {elapsed:.1f} s"
    assert not Path(str(checkpoint_path(out)) + ".tmp").exists()
    w, back, config = RunWriter.resume(out)
    w.close()
    assert config == {"c": 1} and not w.needs_data
    np.testing.assert_array_equal(back.pop("messages"), big)
    weights = back.pop("weights")
    assert weights.dtype == np.int8 and list(weights) == list(range(7))
    assert np.isnan(back.pop("energy")) and np.isnan(state.pop("energy"))
    h = back["schedule"][1].pop("h")
    np.testing.assert_array_equal(h, np.zeros((2, 2)))
    state["schedule"][1].pop("h")
    state.pop("messages"), state.pop("weights")
    assert back == state
    restored = np.random.default_rng()
    restored.bit_generator.state = back["rng"]
    np.testing.assert_array_equal(restored.random(3), rng.random(3))
    w, _, _ = RunWriter.resume(out)
    with w, pytest.raises(TypeError, match="cannot store a set"):
        w.checkpoint({"bad": {1, 2}})


def test_resume_rebuilds_an_unreadable_partial_from_the_checkpoint(tmp_path):
    out = tmp_path / "u.h5"
    with RunWriter(
        out, config={"c": 2}, root_attrs={"seed": 5}, trace_fields=FIELDS
    ) as w:
        w.write_data({"patterns": np.ones((40, 50))}, {}, DESCRIPTIONS)
        for i in range(10):
            w.append_trace({"iteration": i, "gamma": i, "solved": False})
        w.checkpoint({"i": 10})
        for i in range(10, 15):  # after the checkpoint: dropped on resume
            w.append_trace({"iteration": i, "solved": False})
        w.flush()
    with h5py.File(checkpoint_path(out)) as c:
        ckpt_trace = {k: c["trace"][k][()] for k in c["trace"]}
    partial = partial_path(out)
    partial.write_bytes(partial.read_bytes()[:2000])  # killed in the middle of a flush
    w, state, config = RunWriter.resume(partial)  # the .partial path works too
    with w:
        assert state == {"i": 10} and config == {"c": 2} and w.needs_data
        assert w.trace_length == 10
        for key, values in ckpt_trace.items():
            np.testing.assert_array_equal(w.file["trace"][key][()], values)
        w.write_data({"patterns": np.ones((40, 50))}, {}, DESCRIPTIONS)
        w.append_trace({"iteration": 10, "solved": True})
        w.complete()
    run = open_run(out)
    assert run.attrs["seed"] == 5 and run.attrs["resumed"] == 1
    np.testing.assert_array_equal(run.trace["iteration"], np.arange(11))
    assert run.trace["iteration"].dtype == np.int64
    assert run.group("trace").dataset_attrs["solved"]["units"] == "1"
    validate_run(out)


def test_resume_refusals(tmp_path):
    out = tmp_path / "n.h5"
    with pytest.raises(RunFileError, match="no checkpoint to resume from"):
        RunWriter.resume(out)
    with RunWriter(out, config={}, root_attrs={}) as w:
        w.write_data({}, {})
    with pytest.raises(RunFileError, match="no checkpoint to resume from") as exc_info:
        RunWriter.resume(out)
    assert_one_line(exc_info, "--force")
    shutil.rmtree(tmp_path)
    write_run(out)
    with pytest.raises(RunExistsError, match="already complete"):
        RunWriter.resume(out)
    assert not lock_path(out).exists()


# Appends records and checkpoints forever-ish; resumes from the checkpoint when one
# exists (a previous instance was killed), else starts over. Each record's value is
# drawn from the checkpointed generator, so an interrupted chain of processes must
# end with exactly the trace of an uninterrupted one.
CHAIN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from wfm.store import RunWriter, checkpoint_path

    out, total = sys.argv[1], int(sys.argv[2])
    fields = {"iteration": ("int64", "step", "1"), "value": ("float64", "draw", "1"),
              "even": ("bool", "step is even", "1")}
    data = {"x": np.arange(5000.0)}
    if checkpoint_path(out).exists():
        w, state, config = RunWriter.resume(out, flush_seconds=0.005)
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        i, acc = state["i"], state["acc"]
    else:
        w = RunWriter(out, config={"total": total}, root_attrs={"seed": 7},
                      trace_fields=fields, flush_seconds=0.005, force=True)
        rng, i, acc = np.random.default_rng(7), 0, np.zeros(20000)
    with w:
        if w.needs_data:
            w.write_data(data, {"stored": True}, {"x": ("abscissa", "1")})
        while i < total:
            x = rng.random()
            acc += x
            w.append_trace({"iteration": i, "value": x, "even": i % 2 == 0})
            i += 1
            if i % 5 == 0:
                w.checkpoint({"i": i, "rng": rng.bit_generator.state, "acc": acc})
            time.sleep(0.001)
        w.write_solution({"acc": acc}, {"steps": i}, {"acc": ("running sum", "1")})
        w.complete()
    print("done", flush=True)
    """
)


def run_chain(out, total, timeout=60):
    return subprocess.run(
        [sys.executable, "-c", CHAIN_SCRIPT, str(out), str(total)],
        env=CHILD_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_6_killed_writer_resumes_from_its_checkpoint(tmp_path):
    total = 3000  # ~3 s of writing: kills land mid-run on a fast, idle machine too
    reference = tmp_path / "ref.h5"
    assert run_chain(reference, total).returncode == 0
    ref = open_run(reference)
    out = tmp_path / "k.h5"
    rand = random.Random(6)
    kills, checked = 0, 0
    deadline = time.monotonic() + 90
    while not out.exists() and time.monotonic() < deadline:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHAIN_SCRIPT, str(out), str(total)],
            env=CHILD_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            if kills < 6:
                time.sleep(rand.uniform(0.4, 1.6))  # after imports, mid-run
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    kills += 1
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode in (0, -signal.SIGKILL), stderr
        if proc.returncode == 0 or not checkpoint_path(out).exists():
            continue
        # the checkpoint, read independently, is what resume must restore
        with h5py.File(checkpoint_path(out)) as c:
            ckpt_trace = {k: c["trace"][k][()] for k in c["trace"]}
            length = int(c.attrs["trace_length"])
        w, state, config = RunWriter.resume(out)
        with w:
            assert config == {"total": total} and state["i"] == length
            assert w.trace_length == length
            for key, values in ckpt_trace.items():
                stored = w.file["trace"][key][()]
                assert stored.dtype == values.dtype
                np.testing.assert_array_equal(stored, values)
                np.testing.assert_array_equal(values, ref.trace[key][:length])
            restored = np.random.default_rng()
            restored.bit_generator.state = state["rng"]
            assert restored.random() == ref.trace["value"][length]
        checked += 1  # the with block left the partial status "running", unlocked
    assert out.exists() and kills >= 1 and checked >= 1, (kills, checked)
    run = open_run(out)
    validate_run(out)
    assert sorted(os.listdir(tmp_path)) == ["k.h5", "ref.h5"]
    for key in ("iteration", "value", "even"):
        assert run.trace[key].dtype == ref.trace[key].dtype
        np.testing.assert_array_equal(run.trace[key], ref.trace[key])
    np.testing.assert_array_equal(run.solution["acc"], ref.solution["acc"])
    assert run.attrs["resumed"] >= 1 and run.attrs["seed"] == 7


APPEND_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from wfm.store import append_group

    rng = np.random.default_rng(int(sys.argv[2]))
    big = rng.standard_normal(1_000_000)  # 8 MB, gzip: slow enough to be hit
    print("start", flush=True)
    for k in range(1000):
        append_group(sys.argv[1], "/bulk", {"values": big + k}, {"k": k},
                     {"values": ("noise", "1")})
        append_group(sys.argv[1], f"/extra/e{k}", {"k": [k]}, {},
                     {"k": ("index", "1")})
    """
)


def test_6_kill_during_append_group_leaves_earlier_groups_intact(tmp_path):
    out = tmp_path / "a.h5"
    write_run(out)
    theory = {"alpha": np.linspace(0, 1, 50), "entropy": np.cos(np.linspace(0, 1, 50))}
    desc = {
        "alpha": ("constraint density", "1"),
        "entropy": ("entropy per weight", "1"),
    }
    append_group(out, "/theory/entropy", theory, {"kind": "typical"}, desc)
    reference = {
        name: open_run(out).group(name)
        for name in ("data", "solution", "theory/entropy")
    }
    rand = random.Random(4)
    seen_k = set()
    for round_ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", APPEND_SCRIPT, str(out), str(round_)],
            env=CHILD_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "start", proc.stderr.read()
            time.sleep(rand.uniform(0.05, 1.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(20)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        validate_run(out)  # complete, every checksum right
        run = open_run(out)
        for name, group in reference.items():
            now = run.group(name)
            assert now.attrs == group.attrs
            for key, values in group.arrays.items():
                np.testing.assert_array_equal(now.arrays[key], values)
        if "bulk" in run.groups:  # an append either happened entirely or not at all
            bulk = run.group("bulk")
            assert bulk.arrays["values"].shape == (1_000_000,)
            seen_k.add(bulk.attrs["k"])
        np.testing.assert_array_equal(run.trace["iteration"], np.arange(5))
    # a stale append.tmp of a killed child does not block the next append
    append_group(out, "/theory/entropy", theory, {"kind": "large-deviation"}, desc)
    assert open_run(out).group("theory/entropy").attrs["kind"] == "large-deviation"
    assert sorted(os.listdir(tmp_path)) == ["a.h5"]


# ------------------------------------------------------------- append_group
def test_append_group_replace_create_and_refuse_unfinished(tmp_path):
    out = tmp_path / "g.h5"
    write_run(out)
    desc = {"distance": ("Hamming distance / N", "1"), "local_entropy": ("S(d)", "1")}
    append_group(
        out,
        "/local_entropy/bp",
        {"distance": [0.1, 0.2], "local_entropy": [0.05, 0.1]},
        {"method": "bp", "N": 51, "reference": None},
        desc,
    )
    g = open_run(out).group("/local_entropy/bp")
    np.testing.assert_array_equal(g["distance"], [0.1, 0.2])
    assert g.attrs == {"method": "bp", "N": 51, "reference": "none"}
    assert g.dataset_attrs["local_entropy"] == {"description": "S(d)", "units": "1"}
    append_group(
        out, "local_entropy/bp", {"distance": [0.3]}, {"method": "exact"}, desc
    )
    run = open_run(out)
    g = run.group("local_entropy/bp")
    assert list(g.arrays) == ["distance"] and g.attrs["method"] == "exact"
    assert run.extra_groups() == ["/local_entropy/bp"]
    assert run.summary()["groups"]["/local_entropy/bp"]["arrays"] == {"distance": [1]}
    assert run.solution.attrs["converged"] is True  # the run itself is untouched
    with pytest.raises(KeyError, match="no group /hessian"):
        run.group("hessian")

    theory = tmp_path / "theory.h5"
    with pytest.raises(RunFileError, match="no such file"):
        append_group(theory, "/theory/x", {"a": np.arange(3)}, {}, {"a": ("a", "1")})
    append_group(
        theory, "/theory/x", {"a": np.arange(3)}, {"alpha": 0.5}, {"a": ("a", "1")},
        create=True,
    )  # fmt: skip
    run = open_run(theory)
    assert run.config_dict is None and run.status == "complete"
    assert all(run.attrs[k] not in ("", None) for k in PROVENANCE_KEYS)
    assert run.group("theory/x").attrs["alpha"] == 0.5
    assert json.dumps(run.summary())

    unfinished = tmp_path / "u.h5"
    write_run(unfinished, complete=False)
    before = folder_bytes(tmp_path)
    with pytest.raises(RunIncompleteError, match="resume it with") as exc_info:
        append_group(partial_path(unfinished), "/theory/x", {}, {})
    assert_one_line(exc_info, "running")
    assert folder_bytes(tmp_path) == before


def test_base_run_cannot_regenerate_unstored_data(tmp_path):
    out = tmp_path / "s.h5"
    with RunWriter(out, config={"seed": 1}, root_attrs={}) as w:
        w.write_data({}, {"stored": False, "seed": 1})
        w.complete()
    with pytest.raises(RunFileError, match="data not stored.*wfm.open_run"):
        _ = open_run(out).patterns

    class Regenerating(Run):
        def _regenerate_data(self):
            return {"patterns": np.ones((2, 3)), "labels": np.ones(2)}

    run = Regenerating(out)
    assert run.patterns.shape == (2, 3) and run.teacher is None


# -------------------------------------------------------------- format 1
def test_format1_file_stays_readable(tmp_path):
    path = DATA / "format1_run.h5"
    run = open_run(path)
    assert run.format_version == 1 and run.status == "complete"
    assert run.config_dict["model"]["n"] == 21
    assert run.patterns.shape == (6, 21) and run.weights.shape == (21,)
    assert run.trace["iteration"].dtype == np.float64  # format 1 stored floats
    g = run.group("local_entropy/solution")
    for new in (
        "distance",
        "local_entropy",
        "coupling",
        "overlap",
        "overlap_derivative",
    ):
        assert new in g.arrays
    for old in ("d", "s", "lambda", "q", "q_derivative"):
        assert old not in g.arrays
    np.testing.assert_allclose(g["distance"], [0.05, 0.1, 0.2], atol=0.03)
    assert "solution/local_entropy" in run.group("local_entropy").arrays
    assert g.attrs["method"] == "bp"
    assert json.dumps(run.summary())
    validate_run(path)
    copy = tmp_path / "f1.h5"
    shutil.copyfile(path, copy)
    append_group(copy, "/theory/x", {"a": [1.0]}, {}, {"a": ("a", "1")})
    assert (
        open_run(copy).group("local_entropy/solution").arrays.keys() == g.arrays.keys()
    )


# ------------------------------------------------------- provenance, imports
def test_git_commit_never_empty(monkeypatch):
    assert git_commit() and git_commit() != "unknown"  # the tests run from a checkout
    fake = type(sys)("wfm._build_info")
    fake.GIT_COMMIT = "abc123"
    monkeypatch.setitem(sys.modules, "wfm._build_info", fake)
    assert git_commit() == "abc123"
    fake.GIT_COMMIT = ""  # no build info (an installed wfm has a real one)
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(FileNotFoundError())
    )
    assert git_commit() == "unknown"


def test_store_imports_neither_the_package_root_nor_config_data_numba():
    tree = ast.parse((REPO / "wfm" / "store.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
            if node.module == "wfm":
                imported |= {f"wfm.{alias.name}" for alias in node.names}
    forbidden = {"wfm", "wfm.config", "wfm.data", "numba"}
    assert not imported & forbidden, imported & forbidden
    assert not any(name.startswith("numba") for name in imported)
