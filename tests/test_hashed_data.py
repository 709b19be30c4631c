"""Runs on hashed instances (``data.kind = "hashed"``), the AMP local-entropy method
and the device plumbing that works without a GPU."""

import numpy as np
import pytest

import wfm
from wfm import backends
from wfm.api import train_errors
from wfm.cli import main
from wfm.errors import ConfigError
from wfm.kernels import amp
from wfm.measures.local_entropy import local_entropy
from wfm.patterns import HashedPatterns, random_instance


@pytest.mark.parametrize("kind", ["int8", "bits", "hashed"])
def test_row_blocks_are_the_rows_of_every_storage(kind):
    store, _ = random_instance(9, 50, 77, kind)
    dense = store.to_int8()
    for a, b in ((0, 50), (3, 17), (49, 50)):
        np.testing.assert_array_equal(store.row_block(a, b), dense[a:b])


def test_hashed_run_stores_no_patterns_and_regenerates_the_instance(tmp_path):
    spec = wfm.load_spec(
        overrides=["learner.name=amp", "data.kind=hashed", "n=301", "alpha=0.5"]
    )
    run = wfm.run(spec, out=tmp_path / "h.h5")
    assert run.solved
    assert "patterns" not in run.group("data").arrays
    patterns = run.patterns
    assert isinstance(patterns, HashedPatterns)
    key = int(run.group("data").attrs["pattern_key"])
    assert patterns.seed == key
    # blockwise reference count == dense count == 0 for the stored solution
    dense = patterns.to_int8()
    assert train_errors(spec.model, run.weights, patterns, run.labels) == 0
    assert train_errors(spec.model, run.weights, dense, run.labels) == 0
    # a wrong weight vector: the blockwise count equals the dense one
    w = -run.weights
    assert train_errors(spec.model, w, patterns, run.labels) == train_errors(
        spec.model, w, dense, run.labels
    )
    # the same spec gives the same instance (reproducible from the file alone)
    again = wfm.run(spec, out=tmp_path / "h2.h5")
    np.testing.assert_array_equal(again.patterns.to_int8(), dense)
    np.testing.assert_array_equal(again.weights, run.weights)


def test_hashed_data_needs_a_learner_that_reads_patterns_on_the_fly(capsys):
    with pytest.raises(ConfigError, match="needs a learner that reads patterns"):
        wfm.load_spec(overrides=["data.kind=hashed", "n=101"])
    code = main(["run", "--data", "hashed", "--n", "101"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "amp" in err


def test_amp_local_entropy_matches_bp_on_one_instance():
    store, labels = random_instance(4, 120, 301, "int8")
    from wfm.learners import learn

    w = learn("amp", store.xi, labels, seed=0).weights
    d = [0.02, 0.05, 0.1]
    a = local_entropy(store.xi, labels, w, method="amp", distances=d)
    b = local_entropy(store.xi, labels, w, method="bp", distances=d)
    # the dense-limit expansion differs from BP by O(1/N) (docs/amp.md)
    np.testing.assert_allclose(a.local_entropy, b.local_entropy, atol=2e-3)
    assert a.method == "amp" and a.attrs()["device"] == "cpu"
    # the scan also runs on a storage held as bits (no dense matrix)
    c = local_entropy(store.to_int8(), labels, w, method="amp", distances=d)
    np.testing.assert_allclose(c.local_entropy, a.local_entropy, atol=1e-12)


def test_amp_method_refuses_machines_and_bad_references():
    from wfm.models import Architecture

    store, labels = random_instance(1, 20, 45, "int8")
    with pytest.raises(ValueError, match="binary perceptron"):
        local_entropy(store.xi, labels, np.ones(45), method="amp",
                      arch=Architecture(k=3, hidden=True))  # fmt: skip
    with pytest.raises(ValueError, match="reference must be"):
        local_entropy(store.xi, labels, np.ones(44), method="amp")


def test_local_entropy_of_a_hashed_run_by_amp_is_stored_under_its_name(tmp_path):
    spec = wfm.load_spec(
        overrides=["learner.name=amp", "data.kind=hashed", "n=201", "alpha=0.4"]
    )
    path = wfm.run(spec, out=tmp_path / "h.h5").path
    group, res = wfm.local_entropy_of_run(path, method="amp", distances=[0.02, 0.05])
    assert group == "/local_entropy/solution_amp"
    assert np.all(res.local_entropy > 0)
    assert np.all(res.local_entropy <= res.upper_bound + 1e-12)


def test_cpu_engine_is_the_iteration_in_place():
    store, labels = random_instance(2, 40, 61, "bits")
    rng = np.random.default_rng(0)
    m = 0.5 * (2 * rng.random(61) - 1)
    z = np.zeros
    ref = [m.copy(), z(40), z(61), z(61), z(61)]
    eng = amp.AMPEngine(store, labels, m.copy(), z(40), z(61), z(61), z(61))
    for _ in range(3):
        a = amp.amp_iteration(store, labels, *ref, damping=0.5)
        b = eng.iteration(damping=0.5)
        assert a == b
    np.testing.assert_array_equal(eng.state()["m"], ref[0])
    w = np.where(ref[0] >= 0, 1, -1)
    stab = amp.matvec(store, w.astype(float))
    assert eng.count_errors(w) == int(np.sum(labels * stab <= 0))


def test_cuda_requests_without_a_gpu_are_one_line_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(backends, "cuda_usable", lambda: False)
    for argv in (["bench", "amp", "--device", "cuda"],
                 ["run", "--learner", "amp", "--device", "cuda", "--n", "101",
                  "--out", str(tmp_path / "x.h5")]):  # fmt: skip
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and "no usable CUDA GPU" in err and err.count("\n") == 1
    assert not (tmp_path / "x.h5").exists()


def test_machines_on_cuda_say_which_kernel_family_is_missing(monkeypatch):
    monkeypatch.setattr(backends, "cuda_usable", lambda: True)
    spec = wfm.load_spec(
        overrides=["model.name=committee-tree", "k=3", "n=33", "device=cuda"]
    )
    with pytest.raises(ConfigError, match="bp_machine"):
        wfm.run(spec)
