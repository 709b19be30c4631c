"""BP states (wfm.bpstate): checkpoints continue bit-identically, snapshots restore
the messages, the class follows the architecture, errors agree with the models."""

import numpy as np
import pytest

from wfm.bpstate import (
    BPState,
    MachineBPState,
    PerceptronBPState,
    new_bp_state,
)
from wfm.models import Architecture, get_model

# model name -> (k, inputs, patterns); small, with several shards' worth of patterns
CASES = {
    "perceptron-binary": (1, 31, 40),
    "committee-tree": (3, 21, 30),
    "committee-full": (3, 11, 30),
    "parity": (3, 15, 30),
}
SWEEP = {"shards": 2, "damping": 0.3, "gamma": 0.5, "r": 1.0}  # focusing on: f moves


def make_state(model, seed, *, gaussian=False, data_seed=0, **kw):
    k, n, p = CASES[model]
    drng = np.random.default_rng(data_seed)
    if gaussian:
        x = drng.normal(size=(p, n))
    else:
        x = drng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    labels = drng.choice(np.array([-1, 1], dtype=np.int8), size=p)
    arch = get_model(model).architecture(k)
    state = new_bp_state(x, labels, arch=arch, rng=np.random.default_rng(seed), **kw)
    return state, x, labels, arch


def run(state, sweeps, **options):
    return [state.sweep(**SWEEP, **options) for _ in range(sweeps)]


def assert_same_state(a: BPState, b: BPState):
    for name in (*a.MESSAGES, "ext"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.sweeps == b.sweeps
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("gaussian", [False, True], ids=["pm1", "gaussian"])
@pytest.mark.parametrize("model", list(CASES))
def test_state_dict_continues_bit_identically(model, gaussian):
    a, *_ = make_state(model, seed=5, gaussian=gaussian)
    a.ext[...] = 0.3 * np.sign(np.arange(a.ext.size) % 3 - 1.0).reshape(a.ext.shape)
    run(a, 5)
    saved = a.state_dict()
    diffs_a = run(a, 5)
    # a fresh state on the same data, with another seed: the checkpoint decides
    b, *_ = make_state(model, seed=99, gaussian=gaussian)
    b.load_state_dict(saved)
    diffs_b = run(b, 5)
    assert diffs_a == diffs_b
    assert_same_state(a, b)
    assert a.sweeps == 10
    assert a.free_entropy() == b.free_entropy()


def test_state_dict_holds_copies():
    a, *_ = make_state("committee-tree", seed=1)
    saved = a.state_dict()
    assert set(saved) == {*MachineBPState.MESSAGES, "ext", "sweeps", "rng_state"}
    before = {k: v.copy() for k, v in saved.items() if isinstance(v, np.ndarray)}
    run(a, 2)
    for key, value in before.items():
        np.testing.assert_array_equal(saved[key], value, err_msg=key)
    assert saved["sweeps"] == 0


def test_load_state_dict_refuses_other_shapes():
    a, *_ = make_state("perceptron-binary", seed=1)
    b, *_ = make_state("committee-tree", seed=1)
    with pytest.raises(ValueError, match="state dict lacks vup, vdn"):
        b.load_state_dict(a.state_dict())
    bad = a.state_dict()
    bad["u"] = bad["u"][:-1]
    with pytest.raises(ValueError, match="state dict u must have shape"):
        a.load_state_dict(bad)


@pytest.mark.parametrize("model", list(CASES))
def test_snapshot_restore(model):
    state, *_ = make_state(model, seed=3)
    run(state, 2)
    arrays = [getattr(state, name) for name in state.MESSAGES]
    snap = state.snapshot()
    assert len(snap) == len(state.MESSAGES)
    run(state, 3)
    assert not np.array_equal(state.u, snap[0])
    state.restore(snap)
    for name, saved, array in zip(state.MESSAGES, snap, arrays, strict=True):
        assert getattr(state, name) is array  # restored in place
        np.testing.assert_array_equal(array, saved, err_msg=name)


@pytest.mark.parametrize("model", list(CASES))
def test_class_shapes_and_errors_follow_the_architecture(model):
    state, x, labels, arch = make_state(model, seed=2)
    cls = MachineBPState if arch.hidden else PerceptronBPState
    assert type(state) is cls
    n_in = x.shape[1]
    assert state.n_weights == arch.n_weights(n_in)
    assert state.n_factors == x.shape[0]
    shape = (arch.k, arch.fan_in(n_in)) if arch.hidden else (n_in,)
    assert state.fields.shape == state.ext.shape == shape
    run(state, 3)
    w = state.weights()
    assert w.dtype == np.int8 and set(np.unique(w)) <= {-1, 1}
    flat = w.reshape(arch.weight_shape(n_in))
    info = get_model(model)
    assert state.errors() == info.train_errors(flat, x, labels, arch, 0.0)
    assert np.isfinite(state.free_entropy())


def test_machine_options_and_external_fields():
    state, x, labels, arch = make_state("committee-full", seed=4)
    run(state, 2, interleave=True)  # the reference code's schedule
    assert state.sweeps == 2
    ext = np.arange(state.n_weights, dtype=float)
    fresh = MachineBPState.new(x, labels, arch=arch, rng=state.rng, ext=ext)
    np.testing.assert_array_equal(fresh.ext.reshape(-1), ext)
    perceptron, *_ = make_state("perceptron-binary", seed=4)
    with pytest.raises(TypeError, match="takes no option"):
        perceptron.sweep(shards=1, interleave=True)


@pytest.mark.parametrize("model", ["committee-tree", "committee-full", "parity"])
def test_hidden_field_init_is_accepted_by_the_output(model):
    state, x, labels, arch = make_state(model, seed=3, hidden_field=0.5)
    tau = np.sign(state.vdn)
    assert np.all(np.abs(state.vdn) == 0.5)
    out = np.prod(tau, axis=1) if arch.parity else np.sign(tau.sum(axis=1))
    np.testing.assert_array_equal(out, labels)


def test_new_bp_state_validation():
    x = np.ones((3, 9), np.int8)
    y = np.ones(3, np.int8)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="kappa must be 0"):
        new_bp_state(x, y, arch=Architecture(k=3, hidden=True), rng=rng, kappa=0.5)
    with pytest.raises(ValueError, match="arch.k must be 1 for a perceptron"):
        new_bp_state(x, y, arch=Architecture(k=3), rng=rng)
    with pytest.raises(ValueError, match="binary weights"):
        new_bp_state(x, y, arch=Architecture(binary=False), rng=rng)
    with pytest.raises(ValueError, match="multiple of k=2"):
        MachineBPState.new(x, y, arch=Architecture(k=2, hidden=True), rng=rng)
    with pytest.raises(ValueError, match="machine architecture"):
        MachineBPState.new(x, y, arch=Architecture(), rng=rng)
