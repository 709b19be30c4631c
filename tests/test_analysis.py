"""Each analysis/ script on a tiny sweep (seconds), so none rots: real learners at
N <= 51, the scripts' numbers checked against the stored runs."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import wfm
from wfm import sweep as sw

ANALYSIS = Path(__file__).resolve().parent.parent / "analysis"
pytestmark = pytest.mark.filterwarnings("ignore::wfm.BPNotConvergedWarning")


def script(name):
    spec = importlib.util.spec_from_file_location(name, ANALYSIS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep(out, grids, seeds, sets, measure=()):
    plan = sw.load_plan(None, grids, seeds, sets)
    r = sw.sweep(plan, out, jobs=2)
    assert r.failed == []
    for reference in measure:
        m = sw.sweep_measure(
            "local-entropy", sorted(Path(out).glob("*.h5")), jobs=2,
            options={"reference": reference, "allow_errors": reference == "teacher"},
        )  # fmt: skip
        assert m.failed == []
    return out


def read_csv(path):
    return list(csv.DictReader(open(path)))


def test_fbp_success_rate(tmp_path):
    res = sweep(tmp_path / "r", ["alpha=0.3,0.5", "n=21,41"], "0:3", [])
    png = tmp_path / "fig" / "a.png"
    rows = script("fbp_success_rate").main([str(res), "--out", str(png)])
    assert png.stat().st_size > 1000
    table = read_csv(png.with_suffix(".csv"))
    assert len(rows) == len(table) == 4
    records = sw.catalog_records(res)
    for row in rows:
        key = (row["n"], row["alpha"])
        sel = [r for r in records if (r["model.n"], r["data.alpha"]) == key]
        solved = sum(r["solution.solved"] for r in sel)
        assert (row["count"], row["solved"]) == (3, solved)
        low, high = sw.wilson_interval(solved, 3)
        assert (row["wilson_low"], row["wilson_high"]) == (low, high)


def test_local_entropy_learners(tmp_path):
    res = sweep(tmp_path / "r", ["learner.name=fbp,sgd-ce"], "0:2",
                ["n=51", "alpha=0.3"], measure=["solution"])  # fmt: skip
    png = tmp_path / "b.png"
    rows = script("local_entropy_learners").main([str(res), "--out", str(png)])
    assert png.exists()
    curves = {r["curve"] for r in rows}
    assert curves == {"fbp", "sgd-ce", "theory typical", "theory large-deviation"}
    # the mean at d = 0.05 is the mean of the runs' own interpolated ratios
    common = script("_common")
    for learner in ("fbp", "sgd-ce"):
        paths = [r["path"] for r in sw.catalog_records(res)
                 if r["learner.name"] == learner and r["solution.solved"]]  # fmt: skip
        own = [common.ratio_at(p, [0.05])[0] for p in paths]
        row = next(r for r in rows if r["curve"] == learner and r["distance"] == 0.05)
        assert row["n"] == len(paths)
        assert row["ratio_mean"] == pytest.approx(np.mean(own))
    typical = [r for r in rows if r["curve"] == "theory typical"]
    ld = [r for r in rows if r["curve"] == "theory large-deviation"]
    for t, d in zip(typical, ld, strict=True):  # densest regions lie above typical
        assert d["ratio_mean"] >= t["ratio_mean"] - 1e-9


def test_committee_parity(tmp_path):
    res = sweep(tmp_path / "r", ["k=1,3"], "0:3",
                ["model.name=committee-tree", "n=21", "alpha=0.3"],
                measure=["solution"])  # fmt: skip
    png = tmp_path / "c.png"
    rows, summary = script("committee_parity").main(
        [str(res), "--out", str(png), "--distance", "0.1"]
    )
    assert png.exists()
    assert {s["architecture"] for s in summary} == {
        "committee-tree K=1", "committee-tree K=3"
    }  # fmt: skip
    y0 = np.median([r["final_y"] for r in rows if np.isfinite(r["ratio"])])
    for s in summary:
        assert s["common_y"] == y0
        sel = [r for r in rows if r["architecture"] == s["architecture"]]
        assert s["runs"] == len(sel)
        assert s["mean_ratio"] == pytest.approx(np.mean([r["ratio"] for r in sel]))
    assert len(read_csv(png.with_name("c_summary.csv"))) == 2


def test_incremental_learning(tmp_path):
    res = sweep(tmp_path / "r", ["alpha=0.3"], "0:2", ["n=51", "data.kind=teacher"],
                measure=["solution", "teacher"])  # fmt: skip
    png = tmp_path / "d.png"
    rows, summary = script("incremental_learning").main(
        [str(res), "--out", str(png), "--lambdas", "0", "0.5"]
    )
    assert png.exists() and len(rows) == 2 * 2 * 2
    for r in rows:
        assert 0 <= r["distance"] <= 1 and 0 <= r["forgetting"] <= 1
    # lambda = 0 ignores the base: the same W1 whichever base, so the same forgetting
    free = [r for r in rows if r["lambda"] == 0.0]
    for seed in (0, 1):
        a, b = (r["forgetting"] for r in free if r["seed"] == seed)
        assert a == b
    # the coupling keeps W1 nearer its base than free learning does
    for base in ("fBP solution", "teacher (typical)"):
        d = {s["lambda"]: s["distance_mean"] for s in summary if s["base"] == base}
        assert d[0.5] < d[0.0]
    run = wfm.open_run(sorted(res.glob("*.h5"))[0])
    assert "local_entropy" in "".join(run.groups)
