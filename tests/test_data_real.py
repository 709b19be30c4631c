"""Real data: scikit-learn's digits and MNIST-style IDX files as two-class tasks with a
held-out test set; bad files and a missing extra give one line and exit 2."""

import gzip
import struct
import sys

import numpy as np
import pytest

import wfm
from wfm.cli import main
from wfm.config import DataSpec, LearnerSpec, ModelSpec, RunSpec
from wfm.data import read_idx, real_dataset
from wfm.errors import ConfigError
from wfm.rng import stream


def write_idx(path, array, *, gz=False):
    """An IDX file of an unsigned-byte array (MNIST's layout)."""
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, 0x08, array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = head + array.tobytes()
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def tiny_mnist(folder, *, test=True, seed=0):
    """Four IDX files of 5x3 'images' of digits 0-9 (pixels carry the class)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(exist_ok=True)
    for prefix, count in (("train", 120), ("t10k", 40))[: 2 if test else 1]:
        digits = rng.integers(0, 10, count)
        images = rng.integers(0, 60, (count, 5, 3)) + 19 * digits[:, None, None]
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", digits, gz=True)
    return folder


def run_cli(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


# ------------------------------------------------------------------ IDX
def test_read_idx_round_trip(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a", a)), a)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b.gz", a, gz=True)), a)
    assert read_idx(tmp_path / "a", header_only=True) == (2, 3, 4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello world, no idx", "is not an IDX file (bad magic number)"),
        (bytes([0, 0, 0x42, 1]) + b"\0\0\0\1x", "is not an IDX file (type code 0x42"),
        (bytes([0, 0, 8, 3, 0, 0]), "is truncated (incomplete header)"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 9]) + b"12345", "has 5 data bytes, its header"),
    ],
)
def test_malformed_idx_one_line(tmp_path, content, message):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        read_idx(path)


def test_idx_folder_with_test_files(tmp_path):
    folder = tiny_mnist(tmp_path / "m")
    spec = RunSpec.from_dict(
        {
            "model": {"name": "perceptron-spherical"},
            "data": {"kind": f"idx:{folder}", "classes": "2-7"},
            "learner": {"name": "sgd-ce", "epochs": 200},
        }
    )
    assert spec.model.n == 15  # the features, read from the header
    run = wfm.run(spec, tmp_path / "r.h5")
    data = run.group("data")
    n_train = data.attrs["n_train"]
    assert data.attrs["test_set"] == "t10k files"
    assert run.patterns.shape == (n_train, 15) and run.patterns.dtype == np.float64
    # standardized over the training set
    np.testing.assert_allclose(run.patterns.mean(axis=0), 0.0, atol=1e-12)
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    assert data["test_labels"].shape == (np.isin(labels, (2, 7)).sum(),)
    assert run.solution.attrs["solved"]  # the classes are separable
    err = run.trace["test_error"]
    assert np.all((err >= 0) & (err <= 1)) and err[-1] < 0.2
    assert run.solution.attrs["test_error"] == err[-1]


def test_idx_images_file_finds_its_labels(tmp_path):
    folder = tiny_mnist(tmp_path / "m", test=False)
    (folder / "train-labels-idx1-ubyte.gz").rename(folder / "x-labels-idx1-ubyte")
    images = (folder / "train-images-idx3-ubyte").rename(folder / "x-images-idx3-ubyte")
    spec = RunSpec(
        model=ModelSpec("perceptron-spherical", n=15),
        data=DataSpec(f"idx:{images}", test_fraction=0.5, max_patterns=30),
        learner=LearnerSpec("sgd-ce", {"epochs": 3}),
    )
    d = real_dataset(spec.data, 15, stream(0, "split"))
    assert d.patterns.shape == (30, 15) and len(d.test_labels) == 60
    assert d.attrs["test_set"] == "held out"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "nowhere", "cannot read data.kind idx: "),
        (lambda p: p.mkdir() or p, "holds no train-images-idx3-ubyte"),
        (
            lambda p: (
                p.mkdir(),
                (p / "train-images-idx3-ubyte").write_text("x"),
                (p / "train-labels-idx1-ubyte").write_text("y"),
                p,
            )[-1],
            "is not an IDX file (bad magic number)",
        ),  # fmt: skip
        (
            lambda p: (p.write_text("abc"), p)[-1],
            "must be a folder of MNIST-style files",
        ),
    ],
)
def test_cli_bad_idx_path_exits_2(tmp_path, capsys, setup, message):
    path = setup(tmp_path / "data")
    code, _, err = run_cli(
        ["run", "--model", "perceptron-spherical", "--data", f"idx:{path}",
         "--learner", "sgd-ce", "--out", str(tmp_path / "x.h5")], capsys,
    )  # fmt: skip
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.h5").exists()


# ------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "mnist"}, "data.kind must be one of random, gaussian, teacher, "),
        ({"kind": "idx:"}, "data.kind must be one of"),
        ({"kind": "digits", "classes": "3-3"}, "data.classes must be even-odd or a "),
        ({"kind": "digits", "classes": "odd"}, "data.classes must be even-odd or a "),
        (
            {"kind": "digits", "test_fraction": 1.0},
            "data.test_fraction must be in [0, 1)",
        ),
        ({"kind": "digits", "max_patterns": -1}, "data.max_patterns must be >= 0"),
        ({"kind": "digits", "inputs": "raw"}, "data.inputs must be one of standardize"),
    ],
)
def test_bad_data_options_one_line(data, message):
    with pytest.raises(ConfigError) as info:
        RunSpec.from_dict({"model": {"n": 64}, "data": data})
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_generated_specs_carry_no_real_data_fields():
    assert "classes" not in RunSpec().to_dict()["data"]
    spec = RunSpec(model=ModelSpec(n=64), data=DataSpec("digits", classes="3-8"))
    assert spec.to_dict()["data"]["classes"] == "3-8"
    assert RunSpec.from_dict(spec.to_dict()) == spec


# ------------------------------------------------------------------ digits
def test_digits_without_scikit_learn_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, _, err = run_cli(
        ["run", "--model", "perceptron-spherical", "--data", "digits", "--learner",
         "sgd-ce", "--out", str(tmp_path / "x.h5")], capsys,
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert "data.kind digits needs scikit-learn" in err and "wfm[digits]" in err


def test_digits_task_split_and_test_error(tmp_path):
    pytest.importorskip("sklearn")
    spec = RunSpec.from_dict(
        {
            "model": {"name": "perceptron-spherical"},
            "data": {"kind": "digits", "classes": "3-8"},
            "learner": {"name": "sgd-ce", "epochs": 400},
            "seed": 0,
        }
    )
    assert spec.model.n == 64
    run = wfm.run(spec, tmp_path / "d.h5")
    data = run.group("data")
    n_train, n_test = data.attrs["n_train"], data.attrs["n_test"]
    assert n_train + n_test == 357  # 183 threes + 174 eights
    assert n_test == round(0.25 * 357)
    assert set(np.unique(run.labels)) == {-1, 1}
    assert run.solution.attrs["solved"]
    assert 0.0 <= run.solution.attrs["test_error"] < 0.1
    # the split is the seed's: the same again, another for another seed
    a = real_dataset(spec.data, 64, stream(0, "split"))
    b = real_dataset(spec.data, 64, stream(1, "split"))
    np.testing.assert_array_equal(a.patterns, run.patterns)
    assert not np.array_equal(a.patterns, b.patterns)


def test_digits_on_a_tree_committee_pads_the_inputs():
    pytest.importorskip("sklearn")
    spec = RunSpec.from_dict(
        {
            "model": {"name": "committee-tree", "k": 3},
            "data": {"kind": "digits", "inputs": "sign", "max_patterns": 100},
            "learner": {"name": "sgd-ce"},
        }
    )
    assert spec.model.n == 66
    d = real_dataset(spec.data, spec.model.n, stream(0, "split"))
    assert d.patterns.dtype == np.int8 and d.patterns.shape == (100, 66)
    assert set(np.unique(d.patterns[:, :64])) == {-1, 1}
    assert not d.patterns[:, 64:].any() and d.attrs["padding"] == 2
    with pytest.raises(ConfigError, match="model.n must be >= 64"):
        real_dataset(spec.data, 32, stream(0, "split"))


def test_rsgd_traces_the_test_error(tmp_path):
    pytest.importorskip("sklearn")
    spec = RunSpec.from_dict(
        {
            "model": {"name": "perceptron-binary"},
            "data": {"kind": "digits", "classes": "0-1", "inputs": "sign"},
            "learner": {"name": "rsgd", "epochs": 30},
        }
    )
    run = wfm.run(spec, tmp_path / "r.h5")
    err = run.trace["test_error"]
    assert len(err) == run.solution.attrs["iterations"]
    assert np.all((err >= 0.0) & (err <= 1.0)) and err[-1] < 0.1
    assert 0.0 <= run.solution.attrs["test_error"] < 0.1
