"""The API's run files: the numbered failures of issue 9, each reproduced.

Each test failed on the format-1 code: lost runs with two writers, silent overwrites,
tracebacks for bad paths, appends into corrupt files, broken pipes, runs that could
not be resumed, unsolved runs reported as success, missing provenance.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import wfm
from wfm.cli import main

FBP_ARGS = ["--n", "201", "--alpha", "0.6", "--learner", "fbp", "--seed", "1"]


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def wfm_process(*argv, **kw):
    """``python -m wfm.cli ARGV`` as a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "wfm.cli", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )  # fmt: skip


def datasets(path) -> dict:
    """Every dataset of a file, as arrays (for file-content comparisons)."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda k, o: out.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) else 0
        )
    return out


def solution_attrs(path):
    attrs = dict(wfm.open_run(path).solution.attrs)
    for k in ("wall_time_s", "bp_wall_time_s", "edmc_wall_time_s"):
        attrs.pop(k, None)
    return attrs


def assert_same_run(a, b):
    da, db = datasets(a), datasets(b)
    assert sorted(da) == sorted(db)
    for k in da:
        np.testing.assert_array_equal(da[k], db[k], err_msg=k)
        assert da[k].dtype == db[k].dtype, k
    assert solution_attrs(a) == solution_attrs(b)


# ------------------------------------------------------------- (1) two writers
def test_second_writer_refuses_and_first_run_survives(tmp_path, capsys, small_spec):
    out = tmp_path / "r.h5"
    with wfm.store.lock(out):  # another wfm process writing this run
        code, _, err = cli(capsys, "run", "--learner", "fake", "--n", "51",
                           "--out", str(out), "--quiet")  # fmt: skip
        assert code == 2 and "in use by another wfm process" in err
        assert err.count("\n") == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5.lock"]
    run = wfm.run(small_spec, out=out)
    assert run.status == "complete"


def test_second_writer_process_refuses_while_first_runs(tmp_path):
    out = tmp_path / "r.h5"
    first = wfm_process("run", *FBP_ARGS, "--set", "dr=0.0005", "--out", str(out),
                        "--quiet")  # fmt: skip
    deadline = time.time() + 60
    while not Path(str(out) + ".partial").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = wfm_process("run", *FBP_ARGS, "--out", str(out), "--quiet")
    _, err2 = second.communicate(timeout=120)
    assert second.returncode == 2 and "in use by another wfm process" in err2
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert wfm.open_run(out).status == "complete"
    wfm.store.validate_run(out)


# ------------------------------------------------- (2) overwrites, default names
def test_complete_file_is_not_overwritten_without_force(tmp_path, capsys, small_spec):
    out = tmp_path / "r.h5"
    wfm.run(small_spec, out=out)
    before = out.read_bytes()
    code, _, err = cli(capsys, "run", "--learner", "fake", "--n", "51", "--seed", "9",
                       "--out", str(out), "--quiet")  # fmt: skip
    assert code == 2 and "--force" in err and out.read_bytes() == before
    code, _, err = cli(capsys, "run", "--learner", "fake", "--n", "51", "--seed", "9",
                       "--out", str(out), "--quiet", "--force")  # fmt: skip
    assert code == 0, err
    assert wfm.open_run(out).config.seed == 9


def test_default_names_carry_the_spec_hash(small_spec):
    other = wfm.RunSpec(
        model=small_spec.model, data=small_spec.data,
        learner=wfm.LearnerSpec("fake", {"damping": 0.1}), seed=small_spec.seed,
    )  # fmt: skip
    a, b = wfm.default_out_path(small_spec), wfm.default_out_path(other)
    assert a != b and small_spec.short_hash() in a.name


# --------------------------------------------------------------- (3) bad paths
@pytest.mark.parametrize("where", ["afile/x.h5", "/proc/x.h5"])
def test_bad_output_paths_are_one_line_errors(tmp_path, capsys, fake_learner, where):
    (tmp_path / "afile").write_text("not a folder")
    out = where if where.startswith("/") else str(tmp_path / where)
    code, stdout, err = cli(capsys, "run", "--learner", "fake", "--n", "51",
                            "--out", out, "--quiet")  # fmt: skip
    assert code == 2 and err.startswith("wfm: error: ") and err.count("\n") == 1
    assert "Traceback" not in err and stdout == ""


# ------------------------------------------------------ (4) corrupt run files
def _zero_middle(path, nbytes=2048):
    """Zero ``nbytes`` inside the stored patterns (their first chunk: the file's
    layout moves with the length of its attributes, so no fixed offset will do)."""
    data = bytearray(path.read_bytes())
    with h5py.File(path, "r") as f:
        ds = f["data/patterns"]
        offset = ds.id.get_offset()
        if offset is None:  # chunked (checksummed) dataset
            offset = ds.id.get_chunk_info(0).byte_offset
    start = min(offset + 16, len(data) - nbytes)
    data[start : start + nbytes] = bytes(nbytes)
    path.write_bytes(bytes(data))


def test_corrupt_file_is_refused_by_show_and_local_entropy(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["run", *FBP_ARGS, "--out", str(out), "--quiet"]) == 0
    _zero_middle(out)
    before = out.read_bytes()
    capsys.readouterr()
    code, _, err = cli(capsys, "local-entropy", str(out), "--quiet")
    assert code == 2 and "corrupt" in err.lower() and err.count("\n") == 1
    assert out.read_bytes() == before
    code, _, err = cli(capsys, "show", str(out))
    assert code in (0, 2) and "Traceback" not in err
    with pytest.raises(wfm.RunFileError):
        wfm.store.validate_run(out)


# ------------------------------------------------------------ (5) broken pipe
def test_broken_pipe_is_quiet(tmp_path):
    out = tmp_path / "r.h5"
    assert main(["run", *FBP_ARGS, "--out", str(out), "--quiet"]) == 0
    cmd = f"{sys.executable} -m wfm.cli local-entropy {out} --quiet | head -1"
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert done.stdout.startswith("local entropy")
    assert "/local_entropy/solution" in wfm.open_run(out).extra_groups()


# ------------------------------------------------------ (6) checkpoint, resume
KILL_ARGS = [*FBP_ARGS, "--set", "dr=0.001"]  # ~1000 sweeps: long enough to kill


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    ref = tmp_path_factory.mktemp("ref") / "ref.h5"
    assert main(["run", *KILL_ARGS, "--out", str(ref), "--quiet"]) == 0
    return ref


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_kill_then_resume_equals_uninterrupted(tmp_path, how, uninterrupted):
    args, ref = KILL_ARGS, uninterrupted
    out = tmp_path / "r.h5"
    proc = wfm_process("run", *args, "--out", str(out), "--quiet",
                       "--checkpoint-every", "0.05")  # fmt: skip
    ckpt = Path(str(out) + ".ckpt")
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(np.random.default_rng().uniform(0.0, 0.4))
    proc.send_signal(how)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal (machine too fast)")
    expected = {signal.SIGKILL: -9, signal.SIGTERM: 143, signal.SIGINT: 130}[how]
    assert proc.returncode == expected, err
    assert not out.exists() and ckpt.exists()
    if how != signal.SIGKILL:
        assert "wfm run --resume" in err
        assert wfm.open_run(str(out) + ".partial").status == "interrupted"
    done = wfm_process("run", "--resume", str(out), "--quiet")
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert not ckpt.exists() and not Path(str(out) + ".partial").exists()
    assert_same_run(ref, out)


def test_resume_in_process_equals_uninterrupted(
    tmp_path, small_spec, sigterm_at_safe_point
):
    ref = wfm.run(small_spec, out=tmp_path / "ref.h5").path
    out = tmp_path / "r.h5"
    sigterm_at_safe_point(5)  # stop the fake learner at its 5th safe point
    with pytest.raises(wfm.RunInterrupted, match="--resume"):
        wfm.run(small_spec, out=out, checkpoint_seconds=1e9)
    sigterm_at_safe_point.restore()
    assert wfm.open_run(str(out) + ".partial").status == "interrupted"
    wfm.resume(out)
    assert_same_run(ref, out)


# ------------------------------------------------------- (7) honest outcomes
def test_unsolved_run_is_unmissable(tmp_path, capsys):
    out = tmp_path / "r.h5"
    code, stdout, err = cli(capsys, "run", "--n", "21", "--alpha", "1.5",
                            "--learner", "fbp", "--set", "dr=0.05", "--out", str(out),
                            "--quiet")  # fmt: skip
    assert code == 3, err
    assert stdout.startswith("NOT SOLVED") and "exit status 3" in stdout
    run = wfm.open_run(out)
    assert run.solved is False and run.solution.attrs["train_errors"] > 0
    code, _, err = cli(capsys, "local-entropy", str(out), "--quiet")
    assert code == 2 and "--allow-errors" in err
    assert "/local_entropy/solution" not in run.extra_groups()
    code, _, err = cli(capsys, "local-entropy", str(out), "--quiet", "--allow-errors",
                       "--method", "exact")  # fmt: skip
    assert code == 0, err
    g = wfm.open_run(out).group("/local_entropy/solution_exact")
    assert g.attrs["reference_train_errors"] > 0
    png = tmp_path / "f.png"
    assert main(["plot", str(out), "--out", str(png), "--quiet"]) == 0
    from wfm.plot import curves_from_file

    (curve,) = curves_from_file(out)
    assert curve["not_a_solution"] and "NOT A SOLUTION" in curve["label"]


# -------------------------------------------- (8) provenance, self-description
def test_provenance_and_self_description(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["run", *FBP_ARGS, "--out", str(out), "--quiet"]) == 0
    run = wfm.open_run(out)
    attrs = run.attrs
    for key in ("wfm_version", "git_commit", "python_version", "numpy_version",
                "scipy_version", "numba_version", "h5py_version", "command_line",
                "created", "streams"):  # fmt: skip
        assert attrs.get(key) not in (None, ""), key
    assert "run" in attrs["command_line"]
    assert set(json.loads(attrs["streams"])) >= {"data", "learner", "init"}
    data = run.group("data").attrs
    assert data["n_patterns"] == round(0.6 * 201) == run.patterns.shape[0]
    assert data["alpha_effective"] == pytest.approx(121 / 201)
    assert run.trace["iteration"].dtype == np.int64
    assert run.trace["errors"].dtype == np.int64
    assert run.trace["gamma"].dtype == np.float64
    with h5py.File(out, "r") as f:
        missing = []
        f.visititems(
            lambda k, o: (
                missing.append(k)
                if isinstance(o, h5py.Dataset)
                and not (o.attrs.get("description") and o.attrs.get("units"))
                else None
            )
        )
    assert missing == []
    assert main(["local-entropy", str(out), "--quiet", "--distances", "0.02"]) == 0
    g = wfm.open_run(out).group("/local_entropy/solution")
    assert {"distance", "local_entropy", "coupling", "converged"} <= set(g.arrays)


def test_stored_spec_rerun_is_identical(tmp_path):
    out = tmp_path / "a.h5"
    assert main(["run", *FBP_ARGS, "--out", str(out), "--quiet"]) == 0
    spec = wfm.open_run(out).config
    again = wfm.run(spec, out=tmp_path / "b.h5")
    assert_same_run(out, again.path)


def test_refuses_a_run_too_big_for_memory(tmp_path, capsys):
    code, _, err = cli(capsys, "run", "--n", "2000001", "--alpha", "0.6",
                       "--out", str(tmp_path / "x.h5"))  # fmt: skip
    assert code == 2 and "GiB" in err and list(tmp_path.iterdir()) == []


def test_kill_during_append_keeps_earlier_groups(tmp_path):
    out = tmp_path / "r.h5"
    assert main(["run", *FBP_ARGS, "--out", str(out), "--quiet"]) == 0
    wfm.store.append_group(out, "/extra/first", {"x": np.arange(5)}, {"a": 1},
                           {"x": ("numbers", "1")})  # fmt: skip
    before = datasets(out)
    code = (
        "import numpy as np, wfm\n"
        "for i in range(1000):\n"
        f"    wfm.store.append_group({str(out)!r}, f'/extra/big{{i}}', "
        "{'x': np.random.default_rng(i).random(2_000_000)}, {}, "
        "{'x': ('noise', '1')})\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    time.sleep(np.random.default_rng().uniform(1.0, 3.0))
    child.kill()
    child.wait()
    after = datasets(out)
    for k, v in before.items():
        np.testing.assert_array_equal(after[k], v)
    wfm.store.validate_run(out)
