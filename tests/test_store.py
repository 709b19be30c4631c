"""Tests of the HDF5 run format: round trip, trace, kill survival, bad files."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import h5py
import numpy as np
import pytest

import wfm
from wfm.data import generate_for
from wfm.errors import RunFileError
from wfm.store import FORMAT_VERSION, RunWriter, append_group, open_run, partial_path


def test_run_round_trip(tmp_path, small_spec):
    out = tmp_path / "r.h5"
    run = wfm.run(small_spec, out=out)
    assert out.exists() and not partial_path(out).exists()
    assert run.status == "complete"
    assert run.attrs["format_version"] == FORMAT_VERSION
    assert run.attrs["wfm_version"] == wfm.__version__
    for key in ("created", "numpy_version", "numba_version", "h5py_version"):
        assert run.attrs[key]
    assert run.attrs["seed"] == 3
    assert run.config == small_spec
    expected = generate_for(small_spec)
    np.testing.assert_array_equal(run.patterns, expected.patterns)
    np.testing.assert_array_equal(run.labels, expected.labels)
    assert run.patterns.dtype == np.int8 and run.teacher is None
    sol = run.solution.attrs
    assert run.weights.shape == (51,) and run.weights.dtype == np.int8
    from wfm.models.perceptron import train_errors

    assert sol["train_errors"] == train_errors(run.weights, run.patterns, run.labels)
    assert sol["iterations"] == 12 and sol["learner"] == "fake"
    assert sol["free_entropy"] == 0.25 and sol["bp_converged"] is True
    assert sol["note"] == "none" and sol["wall_time_s"] >= 0
    np.testing.assert_array_equal(run.trace["iteration"], np.arange(1, 13))
    np.testing.assert_allclose(run.trace["maxdiff"], 1.0 / np.arange(1, 13))


def test_run_is_reproducible_from_seed(tmp_path, small_spec):
    a = wfm.run(small_spec, out=tmp_path / "a.h5")
    b = wfm.run(small_spec, out=tmp_path / "b.h5")
    np.testing.assert_array_equal(a.weights, b.weights)
    c = wfm.run(replace(small_spec, seed=4), out=tmp_path / "c.h5")
    assert not np.array_equal(a.patterns, c.patterns)


def test_teacher_and_unstored_data(tmp_path, small_spec):
    spec = replace(small_spec, data=wfm.DataSpec("teacher", 0.5, store_data=False))
    run = wfm.run(spec, out=tmp_path / "t.h5")
    with h5py.File(tmp_path / "t.h5") as f:
        assert "patterns" not in f["data"] and f["data"].attrs["seed"] == 3
    expected = generate_for(spec)
    np.testing.assert_array_equal(run.patterns, expected.patterns)
    np.testing.assert_array_equal(run.teacher, expected.teacher)
    spec = replace(spec, data=wfm.DataSpec("teacher", 0.5, store_data=True))
    run = wfm.run(spec, out=tmp_path / "t2.h5")
    np.testing.assert_array_equal(run.teacher, expected.teacher)


def test_trace_is_appended_and_flushed(tmp_path, small_spec):
    w = RunWriter(tmp_path / "w.h5", small_spec, flush_every=3, flush_seconds=1e9)
    for i in range(7):
        w.append_trace({"iteration": i, "y": 2.0 * i, "flag": True})
    with pytest.warns(RuntimeWarning, match="not a number"):
        w.append_trace({"iteration": 7, "phase": "focusing"})
    # 6 records written so far, 2 buffered
    assert w.file["trace/iteration"].shape == (6,)
    w.close()
    run = open_run(w.partial)
    np.testing.assert_array_equal(run.trace["iteration"], np.arange(8))
    np.testing.assert_array_equal(run.trace["y"], 2.0 * np.arange(7))
    assert "phase" not in run.trace and run.status == "running"


def test_failed_learner_leaves_failed_partial(tmp_path, small_spec, fake_learner):
    def boom(*args, trace=None, **kw):
        trace({"iteration": 1})
        raise RuntimeError("diverged")

    fake_learner.learn = boom
    out = tmp_path / "f.h5"
    with pytest.raises(RuntimeError, match="diverged"):
        wfm.run(small_spec, out=out)
    assert not out.exists()
    run = open_run(partial_path(out))
    assert run.status == "failed" and "diverged" in run.attrs["error"]
    assert list(run.trace["iteration"]) == [1.0]


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time, types
    import numpy as np
    import wfm.learners
    from wfm.config import DataSpec, LearnerSpec, ModelSpec, RunSpec
    from wfm.data import generate_for
    from wfm.store import RunWriter

    fake = types.SimpleNamespace(DEFAULTS={}, learn=None)
    wfm.learners.LEARNER_NAMES = ("fake",)
    wfm.learners.get_learner = lambda name: fake
    spec = RunSpec(ModelSpec(n=51), DataSpec(alpha=0.5), LearnerSpec("fake"), seed=1)
    w = RunWriter(sys.argv[1], spec, flush_every=1)
    w.write_data(generate_for(spec))
    i = 0
    while True:
        w.append_trace({"iteration": i, "gamma": 0.5 * i})
        print(i, flush=True)
        i += 1
        time.sleep(0.01)
    """
)


def test_killed_run_leaves_readable_partial(tmp_path, fake_learner):
    out = tmp_path / "k.h5"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        last = -1
        deadline = time.monotonic() + 20
        while last < 20 and time.monotonic() < deadline:
            last = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    run = open_run(partial_path(out))
    assert run.status == "running"
    assert run.config.seed == 1
    assert len(run.trace["iteration"]) >= last + 1
    np.testing.assert_array_equal(
        run.trace["iteration"], np.arange(len(run.trace["iteration"]))
    )
    assert run.patterns.shape == (26, 51)


def test_append_group_and_replace(tmp_path, small_spec):
    out = tmp_path / "g.h5"
    wfm.run(small_spec, out=out)
    append_group(
        out,
        "/local_entropy/bp",
        {"d": [0.1, 0.2], "s": [0.05, 0.1]},
        {"method": "bp", "N": 51, "reference": None},
    )
    run = open_run(out)
    g = run.group("/local_entropy/bp")
    np.testing.assert_array_equal(g["d"], [0.1, 0.2])
    assert g.attrs == {"method": "bp", "N": 51, "reference": "none"}
    append_group(out, "/local_entropy/bp", {"d": [0.3]}, {"method": "exact"})
    g = open_run(out).group("local_entropy/bp")
    assert list(g.arrays) == ["d"] and g.attrs["method"] == "exact"
    assert "/local_entropy/bp" in open_run(out).extra_groups()
    assert open_run(out).summary()["groups"]["/local_entropy/bp"]["arrays"] == {
        "d": [1]
    }
    assert not partial_path(out).exists()
    # the run itself is untouched
    assert open_run(out).solution.attrs["iterations"] == 12
    with pytest.raises(KeyError, match="no group /hessian"):
        run.group("hessian")


def test_append_group_creates_new_file(tmp_path):
    out = tmp_path / "theory.h5"
    append_group(out, "/theory/x", {"a": np.arange(3)}, {"alpha": 0.5})
    run = open_run(out)
    assert run.config is None and run.status == "complete"
    assert run.group("theory/x").attrs["alpha"] == 0.5
    assert json.dumps(run.summary(), default=str)


def test_truncated_file_is_a_run_file_error(tmp_path, small_spec):
    out = tmp_path / "r.h5"
    wfm.run(small_spec, out=out)
    data = out.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(RunFileError, match="truncated or not HDF5"):
        open_run(cut)
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all")
    with pytest.raises(RunFileError, match="truncated or not HDF5"):
        open_run(text)
    with pytest.raises(RunFileError, match="no such file"):
        open_run(tmp_path / "absent.h5")


def test_unknown_format_version_is_a_run_file_error(tmp_path, small_spec):
    out = tmp_path / "r.h5"
    wfm.run(small_spec, out=out)
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
