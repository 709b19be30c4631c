"""BP kernel for committee/parity machines: numba vs numpy reference, exact output
factor, tails, and fBP solving small instances (checked by the numpy models)."""

import math

import numpy as np
import pytest

from wfm.kernels import bp
from wfm.kernels import bp_committee as bpc

ARCHS = {  # name -> (stride is the block size?, parity)
    "tree": (True, False),
    "full": (False, False),
    "parity": (True, True),
}


def _instance(rng, arch, p, k, n, *, gaussian=False, field_scale=0.3):
    tree, _ = ARCHS[arch]
    n_in = k * n if tree else n
    if gaussian:
        x = rng.normal(size=(p, n_in))
    else:
        x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n_in))
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), size=p)
    u = rng.normal(0.0, field_scale, (p, k, n))
    msgs = dict(
        u=u,
        t=np.tanh(u),
        vup=rng.normal(0.0, 1.0, (p, k)),
        vdn=rng.normal(0.0, 1.0, (p, k)),
        U=u.sum(axis=0),
        f=np.zeros((k, n)),
    )
    return x, labels, (n if tree else 0), msgs


def _sweep(fn, x, labels, stride, m, ext, perm, **kw):
    return fn(
        x, labels, stride, m["u"], m["t"], m["vup"], m["vdn"], m["U"], ext, m["f"],
        perm, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize(
    "gamma, r, damping", [(0.0, 0.0, 0.0), (math.inf, 1.5, 0.0), (0.7, 3.0, 0.4)]
)
def test_sweep_matches_reference(arch, shards, gaussian, gamma, r, damping):
    rng = np.random.default_rng(shards + 10 * gaussian + 100 * len(arch))
    p, k, n = 23, 3, 17
    x, labels, stride, ours = _instance(rng, arch, p, k, n, gaussian=gaussian)
    ext = rng.normal(0.0, 1.0, (k, n))
    ref = {key: a.copy() for key, a in ours.items()}
    kw = dict(parity=ARCHS[arch][1], shards=shards, damping=damping, gamma=gamma, r=r)
    for _ in range(4):
        perm = rng.permutation(p)
        d1 = _sweep(bpc.bp_machine_sweep, x, labels, stride, ours, ext, perm, **kw)
        d2 = _sweep(
            bpc.bp_machine_sweep_reference, x, labels, stride, ref, ext, perm, **kw
        )
        assert d1 == pytest.approx(d2, abs=1e-10)
    for key in ours:
        np.testing.assert_allclose(ours[key], ref[key], rtol=0, atol=1e-10, err_msg=key)
    assert np.abs(ours["u"]).max() > 1e-3


def test_parallel_equals_serial():
    rng = np.random.default_rng(5)
    x, labels, stride, a = _instance(rng, "full", 40, 5, 31)
    b = {key: v.copy() for key, v in a.items()}
    ext = np.zeros((5, 31))
    perm = rng.permutation(40)
    kw = dict(shards=4, damping=0.5, gamma=1.0, r=2.0)
    _sweep(bpc.bp_machine_sweep, x, labels, stride, a, ext, perm, parallel=True, **kw)
    _sweep(bpc.bp_machine_sweep, x, labels, stride, b, ext, perm, parallel=False, **kw)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("parity, tree", [(False, True), (False, False), (True, True)])
def test_bethe_matches_reference(parity, tree):
    rng = np.random.default_rng(2)
    p, k, n = 9, 3, 7
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, k * n if tree else n))
    labels = rng.choice([-1.0, 1.0], size=p)
    u = rng.normal(0, 0.3, (p, k, n))
    vup, vdn = rng.normal(0, 2, (p, k)), rng.normal(0, 2, (p, k))
    ext = rng.normal(0, 1, (k, n))
    args = (x, labels, n if tree else 0, u, vup, vdn, u.sum(axis=0), ext)
    a = bpc.machine_bethe_free_entropy(*args, parity=parity)
    b = bpc.machine_bethe_free_entropy_reference(*args, parity=parity)
    assert a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("use_parity", [False, True])
def test_output_factor_vs_brute_force(k, use_parity):
    """DP over the agreeing count (committee) / tanh product (parity) vs 2^K sum."""
    rng = np.random.default_rng(k)
    p = 50
    vup = rng.normal(0.0, 2.0, (p, k))
    vup[:5] = rng.choice([-40.0, -30.0, 30.0, 40.0, 0.0], size=(5, k))  # saturated
    labels = rng.choice(np.array([-1, 1]), size=p)
    ours = bpc.output_factor_fields(np.clip(vup, -30, 30), labels, parity=use_parity)
    ref = bpc.output_factor_fields_reference(
        np.clip(vup, -30, 30), labels, parity=use_parity
    )
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


def test_output_factor_small_case_by_hand():
    """K = 3 committee, label +1: tau_0 = +1 wins iff not both others are -1."""
    v = np.array([[0.0, 0.4, -0.9]])
    p1, p2 = (1 + np.tanh(0.4)) / 2, (1 + np.tanh(-0.9)) / 2
    a = 1 - (1 - p1) * (1 - p2)  # tau_0 = +1: at least one other agrees
    b = p1 * p2  # tau_0 = -1: both others agree
    got = bpc.output_factor_fields(v, np.array([1]))[0, 0]
    assert got == pytest.approx(0.5 * math.log(a / b), abs=1e-14)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_large_fields_no_nan_and_match_reference(arch):
    """Saturated messages, huge external fields, full reinforcement."""
    rng = np.random.default_rng(11)
    p, k, n = 19, 3, 13
    x, labels, stride, ours = _instance(rng, arch, p, k, n, field_scale=20.0)
    ours["u"] = np.clip(ours["u"], -30, 30)
    ours["t"] = np.tanh(ours["u"])
    ours["U"] = ours["u"].sum(axis=0)
    ours["vup"] = np.clip(ours["vup"] * 40, -30, 30)
    ours["vdn"] = np.clip(ours["vdn"] * 40, -30, 30)
    ext = rng.choice([-1e3, 1e3, 0.0], size=(k, n))
    ref = {key: a.copy() for key, a in ours.items()}
    kw = dict(parity=ARCHS[arch][1], damping=0.2, gamma=math.inf, r=50.0)
    for _ in range(3):
        perm = rng.permutation(p)
        _sweep(bpc.bp_machine_sweep, x, labels, stride, ours, ext, perm, **kw)
        _sweep(bpc.bp_machine_sweep_reference, x, labels, stride, ref, ext, perm, **kw)
        for key in ours:
            assert np.all(np.isfinite(ours[key])), key
            assert np.abs(ours[key]).max() <= 1e6
    for key in ("u", "vup", "vdn"):
        assert np.abs(ours[key]).max() <= bp.FIELD_MAX
        np.testing.assert_allclose(ours[key], ref[key], rtol=0, atol=1e-10, err_msg=key)


def test_k1_tree_is_the_perceptron():
    """K = 1: the output factor forces tau = sigma (field 30), and the machine BP is
    the perceptron BP of wfm.kernels.bp (up to tanh(30) = 1 - 2e-26)."""
    rng = np.random.default_rng(2)
    p, n = 30, 41
    x, labels, stride, m = _instance(rng, "tree", p, 1, n, field_scale=0.1)
    m["vdn"][:] = bp.FIELD_MAX * labels[:, None]
    s = (x * labels[:, None]).astype(np.int8)
    u, t, U, f = m["u"][:, 0].copy(), m["t"][:, 0].copy(), m["U"][0].copy(), np.zeros(n)
    ext = rng.normal(0, 0.5, (1, n))
    for _ in range(3):
        perm = rng.permutation(p)
        _sweep(bpc.bp_machine_sweep, x, labels, stride, m, ext, perm, damping=0.3)
        bp.bp_sweep(s, u, t, U, ext[0], f, perm, damping=0.3)
    np.testing.assert_allclose(m["u"][:, 0], u, atol=1e-12)
    np.testing.assert_allclose(m["U"][0], U, atol=1e-11)


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("shards", [1, 3])
def test_interleaved_focusing_matches_reference(arch, shards):
    """Focusing factors visited among the patterns (the reference's schedule)."""
    rng = np.random.default_rng(7 + shards)
    p, k, n = 19, 3, 11
    x, labels, stride, ours = _instance(rng, arch, p, k, n)
    ext = rng.normal(0.0, 0.5, (k, n))
    ref = {key: a.copy() for key, a in ours.items()}
    kw = dict(parity=ARCHS[arch][1], shards=shards, damping=0.3, gamma=0.8, r=2.0)
    for _ in range(3):
        perm = rng.permutation(p + k * n)
        d1 = _sweep(
            bpc.bp_machine_sweep, x, labels, stride, ours, ext, perm, interleave=True,
            **kw,
        )  # fmt: skip
        d2 = _sweep(
            bpc.bp_machine_sweep_reference, x, labels, stride, ref, ext, perm,
            interleave=True, **kw,
        )  # fmt: skip
        assert d1 == pytest.approx(d2, abs=1e-10)
    for key in ours:
        np.testing.assert_allclose(ours[key], ref[key], rtol=0, atol=1e-10, err_msg=key)
    # U stays the sum of the pattern messages: the focusing fields are kept apart
    np.testing.assert_allclose(ours["U"], ours["u"].sum(axis=0), atol=1e-10)
    assert np.abs(ours["f"]).max() > 1e-3
