"""Tests of the ``wfm`` command: exit codes, one-line errors, --json, show."""

import json
import subprocess
import sys

import numpy as np
import pytest

from wfm import open_run
from wfm.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


BAD_INPUTS = [
    (["run", "--n", "1000"], "model.n must be odd"),
    (["run", "--alpha", "-1"], "data.alpha must be > 0, got -1.0"),
    (["run", "--n", "0"], "model.n must be >= 1, got 0"),
    (["run", "--learner", "nope"], "learner.name must be one of"),
    (
        ["run", "--model", "perceptron-spherical"],
        "learner 'fbp' does not support model 'perceptron-spherical'",
    ),
    (["run", "--set", "dr=0"], "learner.dr must be in (0, 1), got 0.0"),
    (
        ["run", "--learner", "sgd-ce", "--set", "lr=-1"],
        "learner.lr must be > 0, got -1.0",
    ),
    (
        ["run", "--learner", "rsgd", "--set", 'gamma=["exp", 0.1]'],
        'learner.gamma must be a number, ["const", a]',
    ),
    (["run", "--set", "damping=-0.1"], "learner.damping must be in [0, 1), got -0.1"),
    (
        ["run", "--learner", "bp", "--model", "parity", "--k", "3", "--n", "51"],
        "learner 'bp' does not support model 'parity'",
    ),
    (["run", "--device", "cuda"], "cuda"),
    (["run", "--checkpoint-every", "0"], "--checkpoint-every must be > 0"),
    (["run", "--resume", "x.h5", "--alpha", "0.5"], "--resume takes no config"),
    (["run", "--resume", "nothing.h5"], "nothing.h5"),
    (["local-entropy", "absent.h5"], "absent.h5"),
    (["run", "--model", "committee-tree", "--k", "4"], "model.k must be odd"),
    (["run", "--set", "learner.dampin=1"], "learner.dampin is not a parameter"),
    (["run", "missing.toml"], "cannot read config file 'missing.toml'"),
    (["run", "--set", "alpha"], "override must look like key=value"),
    (["theory", "entropy", "--alpha", "-1"], "alpha must be >= 0.0, got -1.0"),
    (["theory", "entropy"], "theory entropy needs --alpha"),
    (["theory", "volume"], "invalid choice: 'volume'"),
    (["show", "absent.h5"], "absent.h5: no such file"),
    (["bench", "fft"], "bench kernel on cpu must be one of bp, enumerate"),
    (["bench", "bp", "--n", "0"], "bench bp: needs n >= 1"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS)
def test_bad_input_exit_2_one_line_nothing_written(
    tmp_path, monkeypatch, capsys, fake_learner, argv, message
):
    monkeypatch.chdir(tmp_path)
    extra = ["--out", "x.h5"] if argv[0] in ("run", "theory") else []
    if "--resume" in argv:
        extra = []
    code, out, err = run_cli(capsys, *argv, *extra)
    assert code == 2
    assert err.startswith("wfm: error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []


def test_bad_toml_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = \n")
    code, _, err = run_cli(capsys, "run", str(bad), "--out", str(tmp_path / "x.h5"))
    assert code == 2 and "is not valid TOML" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_run_json_and_show(tmp_path, capsys, fake_learner):
    out = tmp_path / "sub" / "r.h5"
    code, stdout, err = run_cli(
        capsys,
        "run",
        "--n",
        "51",
        "--alpha",
        "0.5",
        "--learner",
        "fake",
        "--seed",
        "2",
        "--set",
        "max_sweeps=5",
        "--out",
        str(out),
        "--json",
        "--quiet",
    )
    assert code == 0, err
    result = json.loads(stdout)
    assert result["config"]["model"]["n"] == 51
    assert result["config"]["learner"] == {
        **{p.name: p.default for p in fake_learner.params},
        "name": "fake",
        "max_sweeps": 5,
        "gamma": "inf",
    }
    assert result["solution"]["iterations"] == 5
    assert result["trace"]["length"] == 5
    assert result["status"] == "complete" and result["path"] == str(out)
    run = open_run(out)
    assert run.config.seed == 2

    code, stdout, _ = run_cli(capsys, "show", str(out))
    assert code == 0
    assert "[model] name=perceptron-binary, n=51" in stdout
    assert "[learner] name=fake" in stdout
    assert "trace: 5 records" in stdout and "train_errors" in stdout
    assert "wfm_version = " in stdout

    code, stdout, _ = run_cli(capsys, "--json", "show", str(out))
    assert code == 0 and json.loads(stdout)["seed"] == 2


def test_run_from_toml_with_set(tmp_path, capsys, fake_learner):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'seed = 1\n[model]\nn = 51\n[data]\nalpha = 0.4\n[learner]\nname = "fake"\n'
    )
    out = tmp_path / "r.h5"
    code, stdout, err = run_cli(
        capsys, "run", str(cfg), "--set", "alpha=0.6", "--out", str(out), "--quiet"
    )
    assert code == 0, err
    assert "fake on perceptron-binary N=51 alpha=0.6 seed=1" in stdout
    assert stdout.startswith("solved: ")
    assert open_run(out).patterns.shape == (31, 51)


def test_theory_writes_group_and_show_lists_it(tmp_path, capsys):
    out = tmp_path / "t.h5"
    code, stdout, err = run_cli(
        capsys, "theory", "entropy", "--alpha", "0.5", "--out", str(out), "--json"
    )
    assert code == 0, err
    result = json.loads(stdout)
    assert result["attrs"]["converged"] and 0 < result["attrs"]["value"] < np.log(2)
    group = open_run(out).group(f"theory/{result['name']}")
    assert group.attrs["value"] == pytest.approx(result["attrs"]["value"])
    code, stdout, _ = run_cli(capsys, "theory", "capacity", "--out", str(out))
    assert code == 0 and "value = 0.83" in stdout
    code, stdout, _ = run_cli(capsys, "show", str(out))
    assert "/theory/entropy_alpha0.5_kappa0" in stdout
    assert "/theory/capacity_kappa0" in stdout


def test_theory_teacher_local_entropy(tmp_path, capsys):
    """--kind teacher: the curve around the teacher, stored and below H2(d)."""
    out = tmp_path / "t.h5"
    code, stdout, err = run_cli(
        capsys, "theory", "local-entropy", "--alpha", "0.5", "--kind", "teacher",
        "--distances", "0.05", "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, err
    arrays = json.loads(stdout)["arrays"]
    s = np.asarray(arrays["local_entropy"])
    assert np.all(np.asarray(arrays["converged"]))
    assert np.all(s < np.asarray(arrays["upper_bound"]))
    assert s[0] == pytest.approx(0.1106, abs=2e-3)  # measured around N=1001 teachers
    group = open_run(out).group("theory/local_entropy_teacher_alpha0.5_kappa0")
    assert group.attrs["kind"] == "teacher"
    code, _, err = run_cli(
        capsys, "theory", "local-entropy", "--alpha", "0.5", "--kind", "teacher",
        "--kappa", "0.5",
    )  # fmt: skip
    assert code == 2 and "kappa = 0 only" in err


def test_bench_bp_json(capsys):
    code, stdout, err = run_cli(
        capsys, "bench", "bp", "--n", "51", "--alpha", "0.5", "--sweeps", "2", "--json"
    )
    assert code == 0, err
    rates = json.loads(stdout)["bp"]["edge_updates_per_s"]
    assert "numba_serial" in rates and "numpy_reference" in rates
    assert any(k.startswith("numba_parallel") for k in rates)
    assert all(v > 0 for v in rates.values())


def test_console_script_help_and_bad_input():
    ok = subprocess.run(
        [sys.executable, "-m", "wfm.cli", "--help"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "run" in ok.stdout and "theory" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "wfm.cli", "run", "--alpha", "0"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr == "wfm: error: data.alpha must be > 0, got 0.0\n"


def test_every_option_has_help_and_metavar():
    from wfm.cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in [("wfm", parser), *sub.choices.items()]:
        for action in p._actions:
            if action.dest in ("help", "version") or action.help == "==SUPPRESS==":
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}"
            takes_value = action.nargs != 0 and not isinstance(
                action, (__import__("argparse")._StoreTrueAction,)
            )
            if action.option_strings and takes_value and action.choices is None:
                assert action.metavar, f"{name} {action.option_strings} has no metavar"


def test_unexpected_error_exit_1_one_line_and_debug(
    tmp_path, capsys, monkeypatch, fake_learner
):
    def boom(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(fake_learner.module, "learn", boom)
    argv = ["run", "--n", "51", "--learner", "fake", "--quiet"]
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path / "x.h5"))
    assert code == 1 and "unexpected error: RuntimeError: bug" in err
    assert err.count("\n") == 1 and "--debug" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path / "y.h5"), "--debug")
    assert code == 1 and "Traceback" in err


def test_cli_local_entropy_and_plot(tmp_path, capsys):
    f = tmp_path / "t.h5"
    args = ["run", "--n", "21", "--alpha", "0.3", "--data", "teacher"]
    assert main([*args, "--learner", "entropy-mc", "--out", str(f), "--quiet"]) == 0
    assert main(["local-entropy", str(f), "--quiet"]) == 0
    assert main(["local-entropy", str(f), "--method", "exact", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["local-entropy", str(f), "--reference", "teacher", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["group"] == "/local_entropy/teacher"
    run = open_run(f)
    g = run.group("/local_entropy/solution")
    assert g.attrs["method"] == "bp" and g.attrs["N"] == 21
    for key in ("distance", "local_entropy", "coupling", "phi", "converged"):
        assert key in g.arrays
    assert run.group("/local_entropy/solution_exact").attrs["method"] == "exact"
    png = tmp_path / "fig.png"
    assert main(["plot", str(f), "--out", str(png), "--quiet"]) == 0
    assert png.stat().st_size > 1000
    capsys.readouterr()
    assert main(["local-entropy", str(tmp_path / "missing.h5")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_theory_machine_capacity_and_entropy(capsys):
    code, out, err = run_cli(
        capsys, "theory", "capacity", "--model", "committee-tree", "--k", "3", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["attrs"]["value"] == pytest.approx(0.920619, abs=1e-5)
    code, out, _ = run_cli(
        capsys, "theory", "entropy", "--model", "parity", "--k", "3", "--alpha", "0.5",
        "--json",
    )  # fmt: skip
    # parity, K >= 2: the q = 0 branch, s = (1 - alpha) ln 2
    assert json.loads(out)["attrs"]["value"] == pytest.approx(0.5 * np.log(2), 1e-6)
    code, _, err = run_cli(
        capsys, "theory", "capacity", "--model", "parity", "--k", "4"
    )
    assert code in (0, 2)
    code, _, err = run_cli(
        capsys, "theory", "capacity", "--model", "committee-tree", "--k", "4"
    )
    assert code == 2 and "odd" in err


def test_learners_lists_the_registry_with_model_defaults(capsys):
    code, out, err = run_cli(capsys, "learners", "fbp", "--model", "parity", "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["learners"]
    params = {p["name"]: p for p in entry["params"]}
    assert params["dr"]["default"] == 0.005  # the machine family's default
    assert params["dr"]["constraint"] == "in (0, 1)" and params["dr"]["doc"]
    assert "parity" in entry["models"] and entry["goal"] == "solution"
    code, out, _ = run_cli(capsys, "learners")
    assert code == 0 and "amp:" in out and "entropy-mc:" in out


def test_bench_amp_and_sgd_json(capsys):
    code, out, err = run_cli(
        capsys, "bench", "amp", "sgd", "--n", "101", "--alpha", "0.5", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    rows = {r["storage"]: r for r in result["amp"]["rows"]}
    assert {"int8", "bits", "hashed"} <= set(rows)
    assert rows["int8"]["bytes_per_iter"] == 2 * result["amp"]["p"] * 101
    assert all(r["iters_per_s"] > 0 for r in rows.values())
    sgd = result["sgd"]
    assert sgd["numba_serial"] > 0 and sgd["numpy"] > 0 and sgd["k"] == 5
    assert set(sgd["learners"]) == {"sgd-ce", "sam", "sa-gd", "esgd", "swa", "rpgd"}
    assert all(v > 0 for v in sgd["learners"].values())
