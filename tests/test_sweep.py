"""wfm.sweep: grids, the local pool (kills, timeouts, Ctrl-C, failures), dask, and the
one-line errors of ``wfm sweep``."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sweep_helpers

import wfm
from wfm import sweep as sw
from wfm.cli import main

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


@pytest.fixture
def fake(monkeypatch):
    sweep_helpers.register(monkeypatch.setitem)


def base(**learner):
    sets = ["n=21", f"learner.name={sweep_helpers.NAME}"]
    return sets + [f"learner.{k}={v}" for k, v in learner.items()]


def sets(**learner):
    """``--set`` arguments of :func:`base`."""
    return [x for s in base(**learner) for x in ("--set", s)]


def plan(grids=("alpha=0.3,0.5",), seeds="0:3", **learner):
    return sw.load_plan(None, list(grids), seeds, base(**learner))


def files(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def assert_same_runs(a, b):
    names = sorted(p.name for p in Path(a).glob("*.h5"))
    assert names == sorted(p.name for p in Path(b).glob("*.h5"))
    assert names
    for name in names:
        assert sweep_helpers.contents(Path(a) / name) == sweep_helpers.contents(
            Path(b) / name
        ), name


def assert_clean_and_complete(folder, n_points):
    """Every point complete exactly once: one .h5 each, nothing half-done left."""
    names = files(folder)
    runs = [n for n in names if n.endswith(".h5")]
    assert len(runs) == n_points
    leftovers = [n for n in names if n.endswith((".partial", ".ckpt", ".lock", ".tmp"))]
    assert leftovers == []
    manifest = json.loads((Path(folder) / sw.MANIFEST).read_text())
    assert sorted(manifest["points"]) == runs
    assert {e["status"] for e in manifest["points"].values()} == {"complete"}
    for name in runs:
        wfm.store.validate_run(Path(folder) / name)


# ------------------------------------------------------------------ grids
@pytest.mark.parametrize(
    ("item", "key", "values"),
    [
        ("alpha=0.5:0.75:0.05", "alpha", (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)),
        ("n=501:2001:500", "n", (501, 1001, 1501, 2001)),
        ("n=501,1001,2001", "n", (501, 1001, 2001)),
        ("learner.name=fbp,amp", "learner.name", ("fbp", "amp")),
        ("alpha=0.6", "alpha", (0.6,)),
        ("alpha=0.1:0.35:0.1", "alpha", (0.1, 0.2, 0.3)),
    ],
)
def test_parse_grid(item, key, values):
    assert sw.parse_grid(item) == (key, values)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("alpha=", "has no values"),
        ("alpha", "grid must look like key=start:stop:step"),
        ("=0.5", "has no key"),
        ("alpha=0.5:0.4:0.05", "has no values (stop 0.4 < start 0.5)"),
        ("alpha=0.5:0.6:0", "step must be > 0"),
        ("alpha=0.5:0.6", "a range is start:stop:step"),
        ("alpha=a:b:c", "a range needs numbers"),
        ("alpha=0.5,0.5", "repeats a value"),
    ],
)
def test_parse_grid_errors(item, message):
    with pytest.raises(wfm.ConfigError, match=re.escape(message)):
        sw.parse_grid(item)


def test_parse_seeds():
    assert sw.parse_seeds("0:20") == tuple(range(20))
    assert sw.parse_seeds("3,5") == (3, 5)
    assert sw.parse_seeds(7) == (7,)
    for bad in ("5:5", "x", "-1", [1, 1]):
        with pytest.raises(wfm.ConfigError):
            sw.parse_seeds(bad)


def test_plan_points_names_and_toml(tmp_path, fake):
    p = plan(grids=("alpha=0.3,0.5", "n=21:41:20"), seeds="0:3")
    assert len(p.points) == 2 * 2 * 3
    names = {sw.point_name(spec) for _, _, spec in p.points}
    assert len(names) == 12  # the spec hash tells the points apart
    assert p.grid == (("data.alpha", (0.3, 0.5)), ("model.n", (21, 41)))
    toml = tmp_path / "s.toml"
    toml.write_text(
        f'seed = 9\n[model]\nn = 21\n[learner]\nname = "{sweep_helpers.NAME}"\n'
        '[sweep]\nseeds = "0:3"\ngrid = {alpha = [0.3, 0.5], n = "21:41:20"}\n'
    )
    q = sw.load_plan(toml)
    assert [s.to_dict() for *_, s in q.points] == [s.to_dict() for *_, s in p.points]
    # --grid replaces the TOML's axis, --seeds its seeds
    r = sw.load_plan(toml, ["n=61"], "4")
    assert r.grid == (("data.alpha", (0.3, 0.5)), ("model.n", (61,)))
    assert [s.seed for *_, s in r.points] == [4, 4]


# ------------------------------------------------------------- local pool
def test_sweep_rerun_skips_and_manifest(tmp_path, fake):
    p = plan()
    r = sw.sweep(p, tmp_path / "a", jobs=2)
    assert (r.points, r.ran, r.skipped, r.failed) == (6, 6, 0, [])
    assert_clean_and_complete(tmp_path / "a", 6)
    m = json.loads((tmp_path / "a" / sw.MANIFEST).read_text())
    assert m["grid"] == {"data.alpha": [0.3, 0.5]}
    assert m["seeds"] == [0, 1, 2]
    assert m["wfm_version"] == wfm.__version__
    assert m["template"] == {
        "model": {"n": 21}, "learner": {"name": sweep_helpers.NAME}
    }  # fmt: skip
    before = {n: (tmp_path / "a" / n).stat().st_mtime_ns for n in files(tmp_path / "a")}
    r = sw.sweep(p, tmp_path / "a", jobs=2)
    assert (r.ran, r.resumed, r.skipped) == (0, 0, 6)
    for name, mtime in before.items():
        if name.endswith(".h5"):
            assert (tmp_path / "a" / name).stat().st_mtime_ns == mtime
    # more seeds: only the new points run, the manifest holds the union
    r = sw.sweep(plan(seeds="0:4"), tmp_path / "a", jobs=2)
    assert (r.ran, r.skipped) == (2, 6)
    m = json.loads((tmp_path / "a" / sw.MANIFEST).read_text())
    assert m["seeds"] == [0, 1, 2, 3] and len(m["points"]) == 8


def test_failing_points_are_recorded_and_do_not_stop(tmp_path, fake):
    p = plan(fail_on_seed=1, nan_on_seed=2)
    r = sw.sweep(p, tmp_path, jobs=2)
    assert r.ran == 2 and len(r.failed) == 4
    errors = {f["file"]: f["error"] for f in r.failed}
    assert sum("planned failure on seed 1" in e for e in errors.values()) == 2
    assert sum("non-finite weights" in e for e in errors.values()) == 2
    lines = [json.loads(x) for x in (tmp_path / sw.FAILURES).read_text().splitlines()]
    assert {x["file"] for x in lines} == set(errors)
    m = json.loads((tmp_path / sw.MANIFEST).read_text())
    statuses = sorted(e["status"] for e in m["points"].values())
    assert statuses == ["complete"] * 2 + ["failed"] * 4
    # the CLI: exit 3 with the failures listed
    code = main(["sweep", "--grid", "alpha=0.3,0.5", "--seeds", "0:3", "--out",
                 str(tmp_path), "--jobs", "2", "--quiet",
                 *sets(fail_on_seed=1, nan_on_seed=2)])  # fmt: skip
    assert code == 3


def _kill_worker_once(folder, killed):
    """SIGKILL the worker writing the first run that has a checkpoint."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not killed:
        for ckpt in Path(folder).glob("*.ckpt"):
            lock = ckpt.with_name(ckpt.name[: -len(".ckpt")] + ".lock")
            try:
                pid = int(lock.read_text().strip())
            except (OSError, ValueError):
                continue
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


def test_worker_killed_then_rerun_equals_uninterrupted(tmp_path, fake):
    p = plan(seeds="0:2", sleep=0.03, max_sweeps=20)
    sw.sweep(p, tmp_path / "ref", jobs=2)
    killed = []
    t = threading.Thread(target=_kill_worker_once, args=(tmp_path / "k", killed))
    t.start()
    r = sw.sweep(p, tmp_path / "k", jobs=2, checkpoint_seconds=0.05)
    t.join()
    assert killed and len(r.failed) == 1
    assert "worker died (exit code -9)" in r.failed[0]["error"]
    r = sw.sweep(p, tmp_path / "k", jobs=2)
    assert (r.resumed, r.ran, r.skipped, r.failed) == (1, 0, 3, [])
    assert_clean_and_complete(tmp_path / "k", 4)
    assert_same_runs(tmp_path / "k", tmp_path / "ref")


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import sweep_helpers
sweep_helpers.register()
from wfm.cli import main
sys.exit(main({argv!r}))
"""


def _sweep_process(out, argv_extra=()):
    argv = ["sweep", "--grid", "alpha=0.3,0.5", "--seeds", "0:3", "--out", str(out),
            "--jobs", "2", "--quiet", "--checkpoint-every", "0.05",
            *sets(sleep=0.05, max_sweeps=30),
            *argv_extra]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = SCRIPT.format(tests=str(TESTS), argv=argv)
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for(pred, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def _no_locks(folder):
    return not list(Path(folder).glob("*.lock"))


@pytest.mark.parametrize(
    "how",
    [
        "sigkill-parent",
        pytest.param(
            "ctrl-c",
            marks=pytest.mark.xfail(
                reason="in the full suite the sweep exits 3 (points recorded failed) "
                "instead of 130 after SIGINT to the process group: an open bug, "
                "see the 2026-11-25 note; the files are still checked when it passes",
                strict=False,
            ),
        ),
        "sigterm-parent",
    ],
)
def test_sweep_killed_then_rerun_finishes_exactly_once(tmp_path, fake, how):
    ref = tmp_path / "ref"
    sw.sweep(plan(sleep=0.05, max_sweeps=30), ref, jobs=2)
    out = tmp_path / "k"
    proc = _sweep_process(out)

    def some_done_some_running():  # the first two done, the next two half-way
        return len(list(out.glob("*.h5"))) >= 2 and len(list(out.glob("*.ckpt"))) >= 2

    assert _wait_for(some_done_some_running)
    if how == "sigkill-parent":
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    elif how == "ctrl-c":  # in a terminal: SIGINT to the whole process group
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
    else:  # SIGTERM to the sweep alone: it stops its workers like Ctrl-C
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
    # orphaned workers checkpoint and stop by themselves (they watch their parent)
    assert _wait_for(lambda: _no_locks(out), timeout=30)
    done_before = len(list(out.glob("*.h5")))
    assert 1 <= done_before < 6
    partials = len(list(out.glob("*.partial")))
    assert partials >= 1, (files(out), proc.communicate())
    r = sw.sweep(plan(sleep=0.05, max_sweeps=30), out, jobs=2)
    assert r.skipped == done_before and r.failed == []
    assert r.resumed == partials and r.ran + r.resumed + r.skipped == 6
    assert_clean_and_complete(out, 6)
    assert_same_runs(out, ref)


def test_timeout_records_failure_then_resumes(tmp_path, fake):
    p = plan(seeds="0:1", sleep=0.1, max_sweeps=20)  # 2 s per point
    sw.sweep(p, tmp_path / "ref", jobs=2)
    t0 = time.monotonic()
    r = sw.sweep(p, tmp_path / "t", jobs=2, timeout=0.5, checkpoint_seconds=0.05)
    assert time.monotonic() - t0 < 1.9  # stopped, not waited for
    assert len(r.failed) == 2
    assert all("timeout after 0.5 s" in f["error"] for f in r.failed)
    assert len(list((tmp_path / "t").glob("*.ckpt"))) == 2
    r = sw.sweep(p, tmp_path / "t", jobs=2)
    assert (r.resumed, r.failed) == (2, [])
    assert_clean_and_complete(tmp_path / "t", 2)
    assert_same_runs(tmp_path / "t", tmp_path / "ref")


# ------------------------------------------------------------------- dask
def test_dask_local_cluster_equals_local_pool(tmp_path, fake):
    pytest.importorskip("distributed")
    p = plan()
    sw.sweep(p, tmp_path / "pool", jobs=2)
    r = sw.sweep(p, tmp_path / "dask", jobs=2, scheduler="local-cluster")
    assert (r.ran, r.failed) == (6, [])
    assert_clean_and_complete(tmp_path / "dask", 6)
    assert_same_runs(tmp_path / "dask", tmp_path / "pool")
    r = sw.sweep(
        p, tmp_path / "client", jobs=2, scheduler="local-cluster", transfer="client"
    )
    assert (r.ran, r.failed) == (6, [])
    assert_clean_and_complete(tmp_path / "client", 6)
    assert_same_runs(tmp_path / "client", tmp_path / "pool")
    r = sw.sweep(p, tmp_path / "dask", jobs=2, scheduler="local-cluster")
    assert r.skipped == 6


# -------------------------------------------------------------- bad input
def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_exit_2(code, out, err, message):
    assert code == 2, err
    assert err.startswith("wfm: error: ") and err.count("\n") == 1, err
    assert message in err
    assert out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--grid", "alpha="], "grid 'alpha=' has no values"),
        (["--grid", "alpha"], "grid must look like key=start:stop:step"),
        (["--grid", "alpha=0.5:0.6:x"], "a range needs numbers"),
        (["--grid", "temperature=1,2"], "temperature is not a config key"),
        (["--grid", "model.q=1,2"], "model.q is not a config key"),
        (["--seeds", "3:1"], "gives no seed"),
        (["--grid", "alpha=-1,0.5"], "data.alpha must be > 0, got -1"),
        (["--jobs", "0"], "jobs must be an integer >= 1"),
        (["--timeout", "1", "--scheduler", "local-cluster"], "local pool only"),
    ],
)
def test_bad_sweep_input_exit_2_nothing_written(tmp_path, capsys, fake, argv, message):
    out = tmp_path / "out"
    code, o, e = run_cli(capsys, "sweep", *argv, "--out", str(out), "--quiet",
                         *sets())  # fmt: skip
    assert_one_line_exit_2(code, o, e, message)
    assert not out.exists()


def test_dead_scheduler_is_one_line_within_the_timeout(tmp_path, capsys, fake):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    t0 = time.monotonic()
    code, o, e = run_cli(capsys, "sweep", "--grid", "alpha=0.3", "--out", str(out),
                         "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "2",
                         "--quiet", *sets())  # fmt: skip
    assert time.monotonic() - t0 < 15
    assert_one_line_exit_2(code, o, e, "scheduler tcp://127.0.0.1:9 did not answer")
    assert not out.exists()


def test_folder_of_another_spec_is_refused(tmp_path, capsys, fake):
    sw.sweep(plan(seeds="0:1"), tmp_path, jobs=1)
    before = files(tmp_path)
    code, o, e = run_cli(capsys, "sweep", "--grid", "alpha=0.3,0.5", "--seeds", "0:1",
                         "--out", str(tmp_path), "--quiet",
                         *sets(max_sweeps=3))  # fmt: skip
    assert_one_line_exit_2(code, o, e, "holds the runs of another spec")
    assert "learner.max_sweeps = (unset) there, 3 here" in e
    assert files(tmp_path) == before


def test_folder_of_runs_without_manifest_is_refused(tmp_path, capsys, fake):
    (tmp_path / "x.h5").write_bytes(b"")
    code, o, e = run_cli(capsys, "sweep", "--grid", "alpha=0.3", "--out",
                         str(tmp_path), "--quiet",
                         *sets())  # fmt: skip
    assert_one_line_exit_2(code, o, e, "holds run files that are not points of this "
                           "sweep (x.h5, ...) and no sweep.json")  # fmt: skip


def test_runs_of_this_sweep_without_manifest_are_adopted(tmp_path, fake):
    sw.sweep(plan(seeds="0:1"), tmp_path / "a", jobs=1)
    (tmp_path / "a" / sw.MANIFEST).unlink()
    r = sw.sweep(plan(seeds="0:2"), tmp_path / "a", jobs=1)
    assert (r.skipped, r.ran) == (2, 2)
    assert_clean_and_complete(tmp_path / "a", 4)
