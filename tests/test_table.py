"""wfm.catalog / wfm table: records from attributes, filters and aggregates checked
against hand-computed values, sweep-measure over run files."""

import csv
import json
import math
import re
import sys

import numpy as np
import pytest
import sweep_helpers

import wfm
from wfm import sweep as sw
from wfm.cli import main


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """alpha 0.3, 0.5 x seeds 0-5; seeds 0 and 3 unsolved (seed % 3 == 0)."""
    mp = pytest.MonkeyPatch()
    sweep_helpers.register(mp.setitem)
    out = tmp_path_factory.mktemp("results")
    plan = sw.load_plan(
        None, ["alpha=0.3,0.5"], "0:6",
        ["n=21", f"learner.name={sweep_helpers.NAME}", "learner.unsolved_every=3"],
    )  # fmt: skip
    sw.sweep(plan, out, jobs=2)
    yield out
    mp.undo()


def test_catalog_records(results):
    records = sw.catalog_records(results)
    assert len(records) == 12
    r = next(r for r in records if r["seed"] == 3 and r["data.alpha"] == 0.5)
    assert r["status"] == "complete"
    assert r["model.n"] == 21 and r["learner.name"] == sweep_helpers.NAME
    assert r["learner.unsolved_every"] == 3
    assert r["solution.solved"] is False and r["solution.iterations"] == 12
    assert r["trace.length"] == 12
    assert r["wfm_version"] == wfm.__version__
    assert r["file"].endswith(".h5") and r["path"].startswith(str(results))


def test_catalog_dataframe_or_records(results, monkeypatch):
    pd = pytest.importorskip("pandas")
    df = wfm.catalog(results)
    assert isinstance(df, pd.DataFrame) and len(df) == 12
    assert df["solution.solved"].sum() == 8
    monkeypatch.setitem(sys.modules, "pandas", None)  # pandas not installed
    records = wfm.catalog(results)
    assert isinstance(records, list) and len(records) == 12


def test_where_filters(results):
    records = sw.catalog_records(results)
    assert len(sw.filter_records(records, "alpha>=0.4")) == 6
    rows = sw.filter_records(records, "seed<2 and alpha==0.3")
    assert sorted(r["seed"] for r in rows) == [0, 1]
    assert all(r["data.alpha"] == 0.3 for r in rows)
    assert len(sw.filter_records(records, ["solved==false", "alpha=0.5"])) == 2
    assert len(sw.filter_records(records, "learner.name=='fake-sweep'")) == 12
    assert len(sw.filter_records(records, "seed!=0, seed!=1")) == 8


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("alpha>=0.6; import os", "the column holds numbers, the value does not"),
        ("learner.name==3", "the column holds text"),
        ("__import__('os')", "must look like COLUMN OP VALUE"),
        ("alpha >>= 1", "must look like COLUMN OP VALUE"),
        ("", "where must be COLUMN OP VALUE"),
        ("name==fbp", "name is ambiguous"),
        ("nope==1", "nope is not a column"),
    ],
)
def test_where_is_parsed_not_evaluated(results, where, message):
    records = sw.catalog_records(results)
    with pytest.raises(wfm.ConfigError, match=message):
        sw.filter_records(records, where)


def test_group_by_and_aggregates_hand_computed(results):
    rows = wfm.table(
        results, group_by="alpha",
        agg="count,solved,success_rate,wilson_low,wilson_high,mean(seed),"
        "median(iterations),max(seed),sem(seed)",
    )  # fmt: skip
    assert [r["alpha"] for r in rows] == [0.3, 0.5]
    for r in rows:
        assert r["count"] == 6 and r["solved"] == 4
        assert r["success_rate"] == pytest.approx(4 / 6)
        # Wilson 95 % interval of 4/6 (z = 1.96): 0.3000 .. 0.9032
        assert r["wilson_low"] == pytest.approx(0.30000, abs=5e-5)
        assert r["wilson_high"] == pytest.approx(0.90324, abs=5e-5)
        assert r["mean(seed)"] == 2.5 and r["median(iterations)"] == 12
        assert r["max(seed)"] == 5
        assert r["sem(seed)"] == pytest.approx(np.std(range(6), ddof=1) / math.sqrt(6))
    rows = wfm.table(results, where="seed<=3", group_by="alpha,solved", agg="count")
    assert rows == [
        {"alpha": 0.3, "solved": False, "count": 2},
        {"alpha": 0.3, "solved": True, "count": 2},
        {"alpha": 0.5, "solved": False, "count": 2},
        {"alpha": 0.5, "solved": True, "count": 2},
    ]


def test_wilson_interval_known_values():
    assert sw.wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=5e-5)
    assert sw.wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=5e-5)
    assert sw.wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=5e-5)
    assert all(math.isnan(x) for x in sw.wilson_interval(0, 0))


@pytest.mark.parametrize(
    ("agg", "message"),
    [("frobnicate", "must be one of count"), ("mode(seed)", "FUNC must be one of"),
     ("mean(", "must be NAME or FUNC(column)")],
)  # fmt: skip
def test_bad_aggregates(results, agg, message):
    with pytest.raises(wfm.ConfigError, match=re.escape(message)):
        wfm.table(results, group_by="alpha", agg=agg)


def test_cli_table_text_json_csv(results, capsys, tmp_path):
    code = main(["table", str(results), "--group-by", "alpha", "--agg",
                 "count,success_rate", "--json"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["rows"][0] == {
        "alpha": 0.3, "count": 6, "success_rate": pytest.approx(4 / 6)
    }  # fmt: skip
    f = tmp_path / "t.csv"
    code = main(["table", str(results), "--where", "alpha==0.5", "--csv", str(f)])
    assert code == 0 and capsys.readouterr()[0] == f"wrote 6 rows to {f}\n"
    rows = list(csv.DictReader(f.open()))
    assert len(rows) == 6 and rows[0]["data.alpha"] == "0.5"
    code = main(["table", str(results), "--group-by", "alpha"])
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["alpha", "count", "success_rate"]
    assert lines[1].split() == ["0.3", "6", "0.6667"]
    code = main(["table", str(tmp_path / "absent"), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 2 and "no such folder" in err and err.count("\n") == 1


def test_sweep_measure_local_entropy(tmp_path, capsys):
    """Real fBP runs (N = 51) and their BP local entropy on the pool: the same
    curve as measuring each file alone; a re-run skips."""
    plan = sw.load_plan(None, ["alpha=0.3"], "0:2", ["n=51"])
    sw.sweep(plan, tmp_path / "a", jobs=2)
    sw.sweep(plan, tmp_path / "b", jobs=1)
    paths = sorted((tmp_path / "a").glob("*.h5"))
    code = main(["sweep-measure", "local-entropy", *map(str, paths), "--jobs", "2",
                 "--quiet", "--json"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["ran"] == 2
    for p in paths:
        wfm.local_entropy_of_run(tmp_path / "b" / p.name)
        a = wfm.open_run(p).group("/local_entropy/solution").arrays
        b = wfm.open_run(tmp_path / "b" / p.name).group("/local_entropy/solution")
        np.testing.assert_array_equal(a["local_entropy"], b.arrays["local_entropy"])
    r = wfm.sweep_measure("local-entropy", paths, jobs=2)
    assert (r.skipped, r.ran) == (2, 0)
    rows = wfm.table(tmp_path / "a", columns="file,local_entropy.solution.method")
    assert [r["local_entropy.solution.method"] for r in rows] == ["bp", "bp"]
    with pytest.raises(wfm.ConfigError, match="measure must be one of local-entropy"):
        wfm.sweep_measure("hessian", paths)


@pytest.mark.filterwarnings("ignore::wfm.BPNotConvergedWarning")
def test_catalog_cache_reads_only_changed_files(tmp_path, monkeypatch):
    sweep_helpers.register(monkeypatch.setitem)
    plan = sw.load_plan(
        None, ["alpha=0.3"], "0:3", ["n=21", f"learner.name={sweep_helpers.NAME}"]
    )
    sw.sweep(plan, tmp_path, jobs=1)
    first = sw.catalog_records(tmp_path)
    assert (tmp_path / sw.CATALOG_CACHE).exists()
    opened = []
    real = sw._record
    monkeypatch.setattr(sw, "_record", lambda p: opened.append(p.name) or real(p))
    assert sw.catalog_records(tmp_path) == first and opened == []
    changed = sorted(tmp_path.glob("*.h5"))[1]
    wfm.local_entropy_of_run(changed, allow_errors=True, distances=[0.1])
    again = sw.catalog_records(tmp_path)
    assert opened == [changed.name]
    assert again[1]["local_entropy.solution.reference_train_errors"] > 0
    assert again[0] == first[0] and again[2] == first[2]
    assert sw.catalog_records(tmp_path, cache=False) == again
