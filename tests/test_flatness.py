"""The flatness table's statistics, and the study's shipped configs."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

import wfm
from wfm.flatness import MEASURES, rank_correlations

RUNS = Path(__file__).resolve().parent.parent / "runs" / "flatness"


def _rows(values):
    return [dict(zip(MEASURES, v, strict=True)) for v in values]


def test_monotone_columns_correlate_exactly():
    x = np.arange(6.0)
    rows = _rows(np.stack([x, -x, x**3, np.exp(x), x], axis=1))
    corr = {(c["x"], c["y"]): c for c in rank_correlations(rows, bootstrap=50)}
    assert corr[("test_error", "local_entropy")]["spearman"] == pytest.approx(-1.0)
    c = corr[("test_error", "trace")]
    assert c["spearman"] == pytest.approx(1.0) and c["n"] == 6
    # resampled runs keep a perfect order (ties make some resamples undefined)
    assert c["ci16"] == pytest.approx(1.0) and c["bootstrap_std"] < 1e-12


def test_random_columns_match_scipy_and_skip_missing_values():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(12, 5))
    values[3, 2] = math.nan  # a run without a local energy
    corr = {
        (c["x"], c["y"]): c for c in rank_correlations(_rows(values), bootstrap=100)
    }
    ok = np.isfinite(values[:, 2])
    expect = spearmanr(values[ok, 0], values[ok, 2]).statistic
    c = corr[("test_error", "local_energy")]
    assert c["n"] == 11 and c["spearman"] == pytest.approx(expect)
    assert 0.1 < c["bootstrap_std"] < 0.6 and c["ci16"] < c["spearman"] < c["ci84"]


def test_fewer_than_three_runs_give_nan():
    corr = rank_correlations(_rows(np.ones((2, 5))), bootstrap=10)
    assert all(math.isnan(c["spearman"]) for c in corr)


@pytest.mark.parametrize("path", sorted(RUNS.glob("*.toml")), ids=lambda p: p.name)
def test_study_configs_are_valid_and_measurable(path):
    spec = wfm.load_spec(path)
    assert spec.model.info.hessian and spec.data.kind == "teacher"
    assert wfm.RunSpec.from_dict(spec.to_dict()) == spec
