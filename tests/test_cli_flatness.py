"""`wfm hessian`, `wfm local-energy`, `wfm analyze flatness` and `wfm bench hessian`
on stored runs: numbers against independent references, bad input exits 2."""

import csv
import json
import math

import h5py
import numpy as np
import pytest

import wfm
from wfm.cli import main
from wfm.kernels import hessian as hs


def _committee_run(folder, seed=0):
    spec = wfm.load_spec(
        None,
        [
            "model.name=committee-full", "model.n=21", "model.k=3", "data.kind=teacher",
            "data.alpha=0.5", "learner.name=sgd-ce", f"seed={seed}",
        ],
    )  # fmt: skip
    path = folder / f"committee_{seed}.h5"
    wfm.run(spec, out=path)
    return path


@pytest.fixture(scope="module")
def committee(tmp_path_factory):
    return _committee_run(tmp_path_factory.mktemp("flat"))


@pytest.fixture(scope="module")
def spherical(tmp_path_factory):
    spec = wfm.load_spec(
        None,
        ["model.name=perceptron-spherical", "model.n=31", "data.alpha=0.8",
         "learner.name=sgd-ce", "seed=1"],
    )  # fmt: skip
    path = tmp_path_factory.mktemp("flat") / "spherical.h5"
    wfm.run(spec, out=path)
    return path


def _json(capsys, args):
    capsys.readouterr()
    assert main([*args, "--json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def _described(path, group):
    with h5py.File(path, "r") as f:
        g = f[group]
        return {k: (g[k].attrs["description"], g[k].attrs["units"]) for k in g}, dict(
            g.attrs
        )


def test_hessian_of_a_committee_against_the_dense_reference(committee, capsys):
    out = _json(
        capsys,
        ["hessian", str(committee), "--top", "5", "--trace", "--density", "--exact",
         "--relax-binary", "--probes", "200"],
    )  # fmt: skip
    run = wfm.open_run(committee)
    w = np.asarray(run.weights, dtype=float)
    point = hs.hvp_point_reference(
        w, run.patterns, run.labels, fully_connected=True, activation="tanh",
        loss="ce", gamma=1.0,
    )  # fmt: skip
    lam = np.linalg.eigvalsh(hs.exact_hessian(point))
    np.testing.assert_allclose(out["eigenvalues"], lam, atol=1e-12 * lam[-1])
    np.testing.assert_allclose(out["top_eigenvalues"], lam[::-1][:5], rtol=1e-8)
    assert abs(out["trace"] - lam.sum()) < 4 * out["trace_stderr"]
    a = out["attrs"]
    assert a["loss"] == "ce" and a["gamma"] == 1.0 and a["n_params"] == 63
    assert a["top_converged"] and a["relaxed_binary"]
    assert abs(a["density_integral"] - 1.0) < 1e-6
    desc, attrs = _described(committee, "hessian")
    assert set(desc) >= {"eigenvalues", "top_eigenvalues", "trace_samples",
                         "density_x", "density_y"}  # fmt: skip
    assert all(d and u for d, u in desc.values())
    assert attrs["loss"] == "ce" and attrs["activation"] == "tanh"


def test_hessian_of_a_spherical_perceptron_in_closed_form(spherical, capsys):
    out = _json(capsys, ["hessian", str(spherical), "--top", "3", "--gamma", "2"])
    run = wfm.open_run(spherical)
    x = np.asarray(run.patterns, dtype=float)
    w, y = np.asarray(run.weights), np.asarray(run.labels, dtype=float)
    n, p = x.shape[1], x.shape[0]
    q = 1.0 / (1.0 + np.exp(2 * 2.0 * y * (x @ w) / math.sqrt(n)))
    closed = np.einsum("p,pi,pj->ij", 2 * 2.0 * q * (1 - q), x, x) / (p * n)
    lam = np.linalg.eigvalsh(closed)[::-1]
    np.testing.assert_allclose(out["top_eigenvalues"], lam[:3], rtol=1e-8)
    assert out["attrs"]["gamma"] == 2.0 and not out["attrs"]["relaxed_binary"]


def test_local_energy_flip_and_gaussian(committee, spherical, capsys):
    out = _json(capsys, ["local-energy", str(committee), "--draws", "30"])
    assert out["attrs"]["mode"] == "flip" and out["flips"][0] >= 0
    assert out["attrs"]["base_error"] == 0.0  # a stored solution
    assert np.all(np.asarray(out["delta_error"]) >= 0)  # from zero errors: >= 0
    out = _json(capsys, ["local-energy", str(spherical), "--sigmas", "0", "0.1", "0.5"])
    assert out["attrs"]["mode"] == "gaussian" and out["delta_error"][0] == 0.0
    assert out["delta_error"][2] > out["delta_error"][1] > 0
    desc, attrs = _described(spherical, "local_energy")
    assert set(desc) == set(out) & set(desc) and attrs["draws"] == 100


def _theory_file(folder):
    path = folder / "theory.h5"
    assert main(["theory", "entropy", "--alpha", "0.5", "--out", str(path)]) == 0
    return path


@pytest.mark.parametrize(
    ("case", "args", "match"),
    [
        ("committee", ["hessian", "--top", "0", "--relax-binary"], "top must be"),
        ("committee", ["hessian"], "pass --relax-binary"),
        ("committee", ["hessian", "--top", "63", "--relax-binary"], "top must be <"),
        ("theory", ["hessian"], "has no /solution"),
        ("theory", ["local-energy"], "has no /solution"),
        ("parity", ["hessian", "--relax-binary"], "has no Hessian-vector products"),
        ("committee", ["local-energy", "--sigmas", "-1"], "sigmas must be in"),
        ("committee", ["analyze", "flatness", "--out", "x"], "at least 3 runs"),
    ],
)
def test_bad_input_one_line_exit_2(
    case, args, match, committee, tmp_path, capsys, fake_learner
):
    if case == "theory":
        path = _theory_file(tmp_path)
    elif case == "parity":
        path = tmp_path / "parity.h5"
        run = ["run", "--model", "parity", "--n", "9", "--k", "3", "--alpha", "0.3"]
        assert main([*run, "--learner", "fake", "--out", str(path), "--quiet"]) == 0
    else:
        path = committee
    capsys.readouterr()
    assert main([*args[:2], str(path), *args[2:]] if args[0] == "analyze" else
                [args[0], str(path), *args[1:]]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and match in err


def test_analyze_flatness_table_and_correlations(committee, tmp_path, capsys):
    paths = [committee] + [_committee_run(tmp_path, seed) for seed in (1, 2, 3)]
    for p in paths:
        assert main(["hessian", str(p), "--top", "2", "--trace", "--relax-binary",
                     "--quiet"]) == 0  # fmt: skip
        assert main(["local-energy", str(p), "--draws", "20", "--quiet"]) == 0
    out_dir = tmp_path / "flatness"
    out = _json(
        capsys,
        ["analyze", "flatness", *map(str, paths), "--out", str(out_dir),
         "--bootstrap", "50"],
    )  # fmt: skip
    with open(out_dir / "flatness.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and (out_dir / "flatness.png").stat().st_size > 1000
    for row, path in zip(rows, paths, strict=True):
        assert float(row["test_error"]) == pytest.approx(
            wfm.generalisation_error_of_run(path)
        )
        assert 0 <= float(row["test_error"]) < 0.5
        group = wfm.open_run(path).group("/hessian")
        assert float(row["top_eigenvalue"]) == pytest.approx(
            float(group.arrays["top_eigenvalues"][0])
        )
    corr = {(c["x"], c["y"]): c for c in out["correlations"]}
    assert len(corr) == 10
    c = corr[("test_error", "trace")]
    assert c["n"] == 4 and -1 <= c["spearman"] <= 1 and c["bootstrap_std"] >= 0
    # not stored: NaN (strict JSON writes it as a string)
    assert corr[("test_error", "local_entropy")]["spearman"] == "nan"


def test_bench_hessian_reports_rates_and_lanczos():
    r, text = wfm.benchmark(
        "hessian", n=400, k=3, p=60, top=3, rounds=2, hvp_n=200, hvp_p=60
    )
    assert set(r["hvp"]["hvp_per_s"]) == {"numba_parallel", "numba_serial", "numpy"}
    assert len(r["lanczos"]["seconds"]["values"]) == 2 and all(
        r["lanczos"]["converged"]
    )
    assert "HVP/s" in text and "load average" in text


def test_hessian_top_only_by_default(committee, capsys):
    out = _json(capsys, ["hessian", str(committee), "--exact", "--relax-binary"])
    assert "top_eigenvalues" not in out and len(out["eigenvalues"]) == 63
    out = _json(capsys, ["hessian", str(committee), "--relax-binary"])
    assert len(out["top_eigenvalues"]) == 20 and "eigenvalues" not in out
    # the second call replaced the group (not merged into it)
    arrays = wfm.open_run(committee).group("/hessian").arrays
    assert sorted(arrays) == ["top_eigenvalues", "top_residuals"]
