"""numba.cuda kernels against the CPU kernels, same inputs (style.md #2).

Run on a GPU (``pytest tests/cuda``), or under numba's simulator, which CI does through
``tests/test_cuda_simulator.py`` (``NUMBA_ENABLE_CUDASIM=1`` in a subprocess, tiny
sizes: the simulator runs every GPU thread as a Python thread). Skipped when neither
is available. Tests marked ``gpu`` need the real device (too slow simulated).
"""

import os

import numpy as np
import pytest

from wfm import backends

pytestmark = pytest.mark.skipif(
    not backends.cuda_usable(), reason="no CUDA GPU and NUMBA_ENABLE_CUDASIM unset"
)
SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
gpu = pytest.mark.skipif(SIM, reason="needs the real GPU (too slow simulated)")

# sizes: tiny under the simulator, realistic on the GPU
N, P = (141, 21) if SIM else (3001, 1801)
ITERS = 1 if SIM else 8


def _state(n, p, dtype, rng):
    m = (0.6 * (2.0 * rng.random(n) - 1.0)).astype(dtype)
    z = np.zeros
    return [m, z(p, dtype), z(n, dtype), (0.2 * rng.standard_normal(n)).astype(dtype),
            z(n, dtype)]  # fmt: skip


@pytest.fixture(scope="module")
def amp_modules():
    from wfm.kernels import amp, amp_cuda

    return amp, amp_cuda


TOL = {"float64": 1e-10, "float32": 2e-4}
AMP_CASES = [
    (kind, dtype, field)
    for kind in ("int8", "bits", "hashed")
    for dtype in ("float64", "float32")
    for field in ("reinforcement", "focusing")
]
if SIM:  # every storage, dtype and field once (the simulator is slow)
    AMP_CASES = [("int8", "float64", "reinforcement"), ("bits", "float32", "focusing"),
                 ("hashed", "float64", "focusing")]  # fmt: skip


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize("kind,dtype,field", AMP_CASES)
def test_amp_iteration_matches_cpu(amp_modules, kind, dtype, field):
    tol = TOL[dtype]
    amp, amp_cuda = amp_modules
    from wfm.patterns import random_instance

    store, labels = random_instance(11, P, N, kind)
    cpu = _state(N, P, dtype, np.random.default_rng(0))
    gpu_state = [a.copy() for a in cpu]
    eng = amp_cuda.AMPEngine(store, labels, *gpu_state)
    kw = dict(kappa=0.1, damping=0.5, field=field, rho=0.3, gamma=0.7, r=2.0)
    for _ in range(ITERS):
        a = amp.amp_iteration(store, labels, *cpu, **kw)
        b = eng.iteration(**kw)
        assert a.errors == b.errors
        assert b.maxdiff == pytest.approx(a.maxdiff, rel=tol, abs=tol)
        assert b.V == pytest.approx(a.V, rel=tol)
        assert b.A == pytest.approx(a.A, rel=tol, abs=tol)
    st = eng.state()
    for name, x in zip(("m", "g", "B", "ext", "f"), cpu, strict=True):
        np.testing.assert_allclose(st[name], x, rtol=tol, atol=tol, err_msg=name)
    phi_cpu = amp.amp_free_entropy(store, labels, *cpu, kappa=0.1)
    assert eng.free_entropy(kappa=0.1) == pytest.approx(phi_cpu, rel=tol, abs=tol)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_amp_products_and_stop_at_solution(amp_modules):
    amp, amp_cuda = amp_modules
    from wfm.patterns import random_instance

    store, labels = random_instance(5, P, N, "bits")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(N), rng.standard_normal(P)
    np.testing.assert_allclose(amp_cuda.matvec(store, x), amp.matvec(store, x),
                               rtol=1e-12, atol=1e-10)  # fmt: skip
    np.testing.assert_allclose(amp_cuda.rmatvec(store, y), amp.rmatvec(store, y),
                               rtol=1e-12, atol=1e-10)  # fmt: skip
    # labels = the outputs of a teacher: sign(m) solves; the state must not move
    w = np.where(rng.random(N) < 0.5, -1, 1)
    stab = amp.matvec(store, w.astype(float))
    labels = np.where(stab > 0, 1, -1).astype(np.int8)
    state = _state(N, P, "float64", rng)
    state[0][:] = 0.5 * w
    eng = amp_cuda.AMPEngine(store, labels, *[a.copy() for a in state])
    assert eng.count_errors(w) == 0
    step = eng.iteration(damping=0.5, stop_at_solution=True)
    assert step.errors == 0 and step.maxdiff == 0.0
    np.testing.assert_array_equal(eng.state()["m"], state[0])


def test_enumeration_matches_cpu():
    from wfm.kernels import enumerate as ce
    from wfm.kernels import enumerate_cuda as ge
    from wfm.models import Architecture

    rng = np.random.default_rng(3)
    cases = [(11, 4, 0.0, "int"), (10, 5, 0.3, "int"), (9, 3, 0.0, "float"),
             (8, 0, 0.0, "int")]  # fmt: skip
    if not SIM:
        cases += [(24, 8, 0.0, "int"), (22, 9, 0.2, "float")]
    for n, p, kappa, kind in cases:
        if kind == "int":
            xi = rng.choice([-1, 1], (p, n)).astype(np.int8)
        else:
            xi = rng.standard_normal((p, n))
        lab, ref = rng.choice([-1, 1], p), rng.choice([-1, 1], n)
        want = ce.count_solutions_by_distance(xi, lab, ref, kappa=kappa)
        got = ge.count_solutions_by_distance(xi, lab, ref, kappa=kappa)
        np.testing.assert_array_equal(got, want, err_msg=f"{n} {p} {kappa} {kind}")
        # the chunking does not change the counts
        got2 = ge.count_solutions_by_distance(xi, lab, ref, kappa=kappa, chunk_bits=2)
        np.testing.assert_array_equal(got2, want)
    with pytest.raises(ValueError, match="perceptron only"):
        ge.count_solutions_by_distance(
            xi, lab, np.ones(2 * n), arch=Architecture(k=2, hidden=True)
        )


@pytest.mark.parametrize("kind", ["int8", "float"])
def test_bp_sweep_matches_cpu_parallel_schedule(kind):
    from wfm.kernels import bp, bp_cuda

    rng = np.random.default_rng(0)
    n, p = (40, 16) if SIM else (1001, 600)
    if kind == "int8":
        xi = rng.choice([-1, 1], (p, n)).astype(np.int8)
    else:
        xi = rng.standard_normal((p, n))
    lab = rng.choice([-1, 1], p)
    s = (xi * lab[:, None]).astype(xi.dtype)
    u = np.arctanh(0.3 * (2 * rng.random((p, n)) - 1))
    ext = 0.1 * rng.standard_normal(n)
    a = [u.copy(), np.tanh(u), u.sum(0), np.zeros(n)]
    b = [x.copy() for x in a]
    kw = dict(kappa=0.2, damping=0.3, gamma=0.5, r=2.0)
    for _ in range(2 if SIM else 10):
        d1 = bp.bp_sweep(s, a[0], a[1], a[2], ext, a[3], np.arange(p), shards=p, **kw)
        d2 = bp_cuda.bp_sweep(s, *b[:3], ext, b[3], rng.permutation(p), **kw)
        assert d2 == pytest.approx(d1, rel=1e-10, abs=1e-12)
    for x, y, name in zip(a, b, ("u", "t", "U", "f"), strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-11, err_msg=name)
    w = np.where(rng.random(n) < 0.5, 1, -1)
    assert bp_cuda.count_errors(s, w, 0.1) == bp.count_errors(s, w, 0.1)


def test_bp_state_on_device_keeps_messages_there_and_round_trips():
    from wfm.bpstate import new_bp_state
    from wfm.kernels._cuda import DeviceMatrix
    from wfm.models import Architecture

    rng = np.random.default_rng(2)
    n, p = (31, 12) if SIM else (1001, 500)
    xi = rng.choice([-1, 1], (p, n)).astype(np.int8)
    lab = rng.choice([-1, 1], p).astype(np.int8)
    states = {
        dev: new_bp_state(
            xi, lab, arch=Architecture(), rng=np.random.default_rng(7), device=dev
        )  # fmt: skip
        for dev in ("cpu", "cuda")
    }
    gpu_state, cpu_state = states["cuda"], states["cpu"]
    assert isinstance(gpu_state.u, DeviceMatrix)
    snap = gpu_state.snapshot()
    for _ in range(2):
        d1 = cpu_state.sweep(shards=p, damping=0.2, gamma=1.0, r=1.0)
        d2 = gpu_state.sweep(shards=p, damping=0.2, gamma=1.0, r=1.0)
        assert d2 == pytest.approx(d1, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(np.asarray(gpu_state.u), cpu_state.u, atol=1e-11)
    assert gpu_state.free_entropy() == pytest.approx(
        cpu_state.free_entropy(), abs=1e-10
    )
    assert gpu_state.errors() == cpu_state.errors()
    d = gpu_state.state_dict()
    gpu_state.restore(snap)
    np.testing.assert_allclose(np.asarray(gpu_state.u), snap[0])
    gpu_state.load_state_dict(d)
    np.testing.assert_allclose(np.asarray(gpu_state.t), cpu_state.t, atol=1e-11)


@gpu
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_amp_learner_on_gpu_solves_like_cpu(dtype):
    from wfm.learners import learn
    from wfm.patterns import random_instance

    store, labels = random_instance(1, 601, 1001, "bits")
    params = {"dtype": dtype, "rate": 0.003}
    cpu = learn("amp", store, labels, params=params, seed=0)
    gpu_r = learn("amp", store, labels, params=params, seed=0, device="cuda")
    assert cpu.train_errors == 0 and gpu_r.train_errors == 0
    if dtype == "float64":  # a few ulp per iteration: same trajectory, same solution
        assert abs(gpu_r.iterations - cpu.iterations) <= 2
        assert np.mean(gpu_r.weights == cpu.weights) > 0.99


@gpu
def test_fbp_on_gpu_solves():
    from wfm.learners import learn
    from wfm.patterns import random_instance

    store, labels = random_instance(2, 300, 501, "int8")
    r = learn("fbp", store.xi, labels, seed=0, device="cuda")
    assert r.train_errors == 0


@gpu
def test_local_entropy_amp_on_gpu_matches_cpu():
    from wfm.learners import learn
    from wfm.measures.local_entropy import local_entropy
    from wfm.patterns import random_instance

    store, labels = random_instance(4, 1000, 2001, "bits")
    w = learn("amp", store, labels, seed=0).weights
    d = [0.01, 0.02, 0.05]
    a = local_entropy(store, labels, w, method="amp", distances=d)
    b = local_entropy(store, labels, w, method="amp", distances=d, device="cuda")
    np.testing.assert_allclose(b.local_entropy, a.local_entropy, atol=1e-6)
    c = local_entropy(store.to_int8(), labels, w, method="bp", distances=d)
    np.testing.assert_allclose(a.local_entropy, c.local_entropy, atol=2e-3)
