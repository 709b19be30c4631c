"""Minibatch kernels of the gradient learners: numba vs numpy, gradients, rSGD."""

import math
import zlib

import numba
import numpy as np
import pytest

from wfm.kernels import sgd
from wfm.models import committee, nets, perceptron

# (name, fully_connected, weight shape, number of inputs)
MODELS = {
    "perceptron": (False, (13,), 13),
    "tree": (False, (3, 5), 15),
    "fully_connected": (True, (3, 9), 9),
}
LOSSES = [("ce", 2.0), ("ce", math.inf), ("hinge", 2.0), ("mse", 2.0)]
WEIGHT_MODES = {
    "plain": {},
    "normalise": {"normalise": True},
    "binary": {"binary": True},
}


def _seed(*args):
    """A seed from the test parameters, stable across processes (unlike ``hash``)."""
    return zlib.crc32(repr(args).encode())


def _activations(model):
    return ["linear", "tanh", "relu"] if model == "perceptron" else ["tanh", "relu"]


def _instance(rng, model, p, *, ints=False):
    fc, shape, n_inputs = MODELS[model]
    w = rng.normal(size=shape)
    if ints:
        x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n_inputs))
    else:
        x = rng.normal(size=(p, n_inputs))
    labels = rng.choice(np.array([-1.0, 1.0]), size=p)
    return fc, w, x, labels


def _cases():
    for model in MODELS:
        for act in _activations(model):
            yield model, act


# ---------------------------------------------------------------- numba vs numpy
@pytest.mark.parametrize("mode", list(WEIGHT_MODES))
@pytest.mark.parametrize("ints", [False, True])
@pytest.mark.parametrize("model, activation", [*_cases(), ("tree", "sign")])
def test_forward_and_errors_match_reference(model, activation, ints, mode):
    rng = np.random.default_rng(_seed(model, activation, ints, mode))
    fc, w, x, labels = _instance(rng, model, 40, ints=ints)
    rows = rng.permutation(40)[:25]
    kw = dict(fully_connected=fc, activation=activation, **WEIGHT_MODES[mode])
    out = sgd.forward(w, x, rows=rows, **kw)
    ref = sgd.forward_reference(w, x, rows=rows, **kw)
    assert out.shape == (25,)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-14)
    assert np.std(out) > 1e-3
    # kappa halfway between two stabilities near the median: no rounding ties
    stab = labels[rows] * ref
    u = np.unique(stab)
    kappa = 0.5 * (u[u.size // 2 - 1] + u[u.size // 2])
    expected = int(np.count_nonzero(stab <= kappa))
    assert 0 < expected < 25
    e = sgd.train_errors(w, x, labels, kappa=kappa, rows=rows, **kw)
    e_ref = sgd.train_errors_reference(w, x, labels, kappa=kappa, rows=rows, **kw)
    assert e == e_ref == expected


@pytest.mark.parametrize("mode", list(WEIGHT_MODES))
@pytest.mark.parametrize("loss, gamma", LOSSES)
@pytest.mark.parametrize("model, activation", list(_cases()))
def test_loss_and_grad_match_reference(model, activation, loss, gamma, mode):
    rng = np.random.default_rng(_seed(model, activation, loss, gamma, mode))
    fc, w, x, labels = _instance(rng, model, 50)
    rows = rng.permutation(50)[:30]
    kw = dict(
        fully_connected=fc, activation=activation, loss=loss, gamma=gamma, kappa=0.2
    )
    kw |= WEIGHT_MODES[mode]
    g, g_ref = np.full_like(w, np.nan), np.full_like(w, np.nan)
    val = sgd.loss_and_grad(w, x, labels, g, rows=rows, **kw)
    val_ref = sgd.loss_and_grad_reference(w, x, labels, g_ref, rows=rows, **kw)
    assert val == pytest.approx(val_ref, rel=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-15)
    assert np.abs(g_ref).max() > 1e-3  # a gradient that could be wrong


def test_large_input_all_chunks_match_reference():
    """More input columns than one chunk, blocks straddling chunks, int8 patterns."""
    rng = np.random.default_rng(7)
    k, n = 5, 301  # tree: 1505 columns, fully connected: 301
    for fc in (False, True):
        w = rng.normal(size=(k, n))
        x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(64, n if fc else k * n))
        labels = rng.choice([-1.0, 1.0], size=64)
        g, g_ref = np.empty_like(w), np.empty_like(w)
        kw = dict(fully_connected=fc, activation="relu", loss="ce", normalise=True)
        v = sgd.loss_and_grad(w, x, labels, g, **kw)
        v_ref = sgd.loss_and_grad_reference(w, x, labels, g_ref, **kw)
        assert v == pytest.approx(v_ref, rel=1e-13)
        np.testing.assert_allclose(g, g_ref, rtol=1e-11, atol=1e-15)


# ---------------------------------------------------------------- gradients
def _away_from_kinks(rng, model, activation, loss, normalise, p=12, margin=0.05):
    """An instance whose ReLU fields and hinge / ce(inf) stabilities avoid their kinks.

    Patterns are drawn from a pool and kept only if every hidden field (ReLU) and the
    stability (hinge at kappa, ce at gamma = inf at 0) is at least ``margin`` away from
    the kink; kappa is the pool's median stability, so both sides of the hinge occur.
    """
    fc, w, pool, labels = _instance(rng, model, 400)
    kw = dict(fully_connected=fc, activation=activation, normalise=normalise)
    h = nets.hidden_fields(w, pool, fully_connected=fc, normalise=normalise)
    delta = labels * nets.forward(w, pool, **kw)
    kappa = float(np.median(delta)) if loss == "hinge" else 0.0
    ok = np.ones(400, dtype=bool)
    if activation == "relu":
        ok &= np.all(np.abs(h) > margin, axis=1)
        ok &= np.any(h > margin, axis=1)  # some active unit: a non-zero gradient
    if loss in ("hinge", "ce-inf"):
        ok &= np.abs(delta - kappa) > margin
    keep = np.flatnonzero(ok)[:p]
    assert keep.size == p
    if loss in ("hinge", "ce-inf"):
        assert np.any(delta[keep] < kappa) and np.any(delta[keep] > kappa)
    return fc, w, pool[keep], labels[keep], kappa


@pytest.mark.parametrize("normalise", [False, True])
@pytest.mark.parametrize("loss, gamma", LOSSES)
@pytest.mark.parametrize("model, activation", list(_cases()))
def test_gradient_matches_central_differences(
    model, activation, loss, gamma, normalise
):
    rng = np.random.default_rng(_seed(model, activation, loss, gamma, normalise))
    tag = "ce-inf" if (loss == "ce" and math.isinf(gamma)) else loss
    fc, w, x, labels, kappa = _away_from_kinks(rng, model, activation, tag, normalise)
    kw = dict(
        fully_connected=fc,
        activation=activation,
        loss=loss,
        gamma=gamma,
        kappa=kappa,
        normalise=normalise,
    )
    g = np.empty_like(w)
    sgd.loss_and_grad(w, x, labels, g, **kw)
    scratch = np.empty_like(w)
    eps = 1e-6
    fd = np.empty_like(w)
    for idx in np.ndindex(w.shape):
        wp, wm = w.copy(), w.copy()
        wp[idx] += eps
        wm[idx] -= eps
        lp = sgd.loss_and_grad(wp, x, labels, scratch, **kw)
        lm = sgd.loss_and_grad(wm, x, labels, scratch, **kw)
        fd[idx] = (lp - lm) / (2 * eps)
    assert np.linalg.norm(g) > 1e-3
    assert np.linalg.norm(fd - g) / np.linalg.norm(g) < 1e-6


def test_normalised_gradient_is_the_tangent_projection_on_the_sphere():
    rng = np.random.default_rng(3)
    for model in MODELS:
        fc, w, x, labels = _instance(rng, model, 30)
        w2 = np.atleast_2d(w)
        w2 *= np.sqrt(w2.shape[1]) / np.linalg.norm(w2, axis=1, keepdims=True)
        kw = dict(fully_connected=fc, activation="linear" if w.ndim == 1 else "tanh")
        g_plain, g_norm = np.empty_like(w), np.empty_like(w)
        lp = sgd.loss_and_grad(w, x, labels, g_plain, **kw)
        ln = sgd.loss_and_grad(w, x, labels, g_norm, normalise=True, **kw)
        assert lp == pytest.approx(ln, rel=1e-13)
        gp, gn = np.atleast_2d(g_plain), np.atleast_2d(g_norm)
        radial = np.sum(gp * w2, axis=1, keepdims=True) / w2.shape[1]
        np.testing.assert_allclose(gn, gp - radial * w2, rtol=1e-12, atol=1e-14)
        assert np.abs(radial).max() > 1e-4
        np.testing.assert_allclose(np.sum(gn * w2, axis=1), 0.0, atol=1e-13)


@pytest.mark.parametrize("model", list(MODELS))
def test_binary_straight_through_is_the_gradient_at_the_signs(model):
    rng = np.random.default_rng(11)
    fc, w, x, labels = _instance(rng, model, 30)
    signs = np.where(w > 0, 1.0, -1.0)
    kw = dict(fully_connected=fc, loss="ce", gamma=3.0)
    g_latent, g_signs = np.empty_like(w), np.empty_like(w)
    v1 = sgd.loss_and_grad(w, x, labels, g_latent, binary=True, **kw)
    v2 = sgd.loss_and_grad(signs, x, labels, g_signs, **kw)
    assert v1 == v2
    np.testing.assert_array_equal(g_latent, g_signs)
    # and the forward is the binary network's, whatever the latent magnitudes
    np.testing.assert_array_equal(
        sgd.forward(
            w * rng.uniform(0.1, 5, size=w.shape), x, fully_connected=fc, binary=True
        ),
        sgd.forward(signs, x, fully_connected=fc),
    )


def test_errors_agree_with_the_model_modules():
    """The committee vote (activation sign) and the perceptron, binary weights."""
    rng = np.random.default_rng(5)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(200, 45))
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), size=200)
    w = rng.normal(size=45)
    e = sgd.train_errors(w, x, labels, binary=True)
    assert e == perceptron.train_errors(np.where(w > 0, 1, -1), x, labels)
    assert 60 < e < 140
    for fc, shape in ((False, (5, 9)), (True, (5, 45))):
        w = rng.normal(size=shape)
        wb = np.where(w > 0, 1, -1)
        e = sgd.train_errors(
            w, x, labels, fully_connected=fc, activation="sign", binary=True
        )
        assert e == committee.train_errors(wb, x, labels, 5, fc)


def test_cross_entropy_is_stable_and_has_its_limits():
    d = np.array([-1e6, -50.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 50.0, 1e6])
    for gamma in (1e-3, 1.0, 1e3, math.inf):
        # a perceptron with one input gives Delta = w exactly
        vals, grads = [], []
        for di in d:
            g = np.empty(1)
            vals.append(
                sgd.loss_and_grad(
                    np.array([di]), np.ones((1, 1)), np.ones(1), g, gamma=gamma
                )
            )
            grads.append(g[0])
        vals, grads = np.array(vals), np.array(grads)
        assert np.all(np.isfinite(vals)) and np.all(np.isfinite(grads))
        np.testing.assert_allclose(vals, nets.loss_values(d, "ce", gamma), rtol=1e-14)
        np.testing.assert_allclose(
            grads, nets.loss_derivatives(d, "ce", gamma), rtol=1e-14
        )
        assert vals[0] == pytest.approx(1e6, rel=1e-9)  # ~ -Delta for Delta -> -inf
        assert vals[-1] < 1e-300 or gamma < 1  # ~ 0 for Delta -> +inf
    assert nets.loss_values(0.0, "ce", 2.0) == pytest.approx(math.log(2) / 4)


# ---------------------------------------------------------------- learning
@pytest.mark.parametrize("normalise", [True, False])
def test_sgd_solves_an_easy_spherical_perceptron(normalise):
    """N = 101 at alpha = 0.5, ce at gamma = 1, minibatches of 10: zero errors.

    Normalised fields with the weights projected back on the sphere after each step,
    or plain fields with a free norm.
    """
    rng = np.random.default_rng(0)
    n, p = 101, 50
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    labels = rng.choice(np.array([-1.0, 1.0]), size=p)
    w = rng.normal(size=n)
    w *= np.sqrt(n) / np.linalg.norm(w)
    g = np.empty(n)
    kw = dict(loss="ce", gamma=1.0, normalise=normalise)
    first = sgd.loss_and_grad(w, x, labels, g, **kw)
    errors0 = sgd.train_errors(w, x, labels)
    for _ in range(300):
        order = rng.permutation(p)
        for s in range(0, p, 10):
            sgd.loss_and_grad(w, x, labels, g, rows=order[s : s + 10], **kw)
            w -= 1.0 * g
            if normalise:
                w *= np.sqrt(n) / np.linalg.norm(w)
        if sgd.train_errors(w, x, labels) == 0:
            break
    assert errors0 > 10
    assert sgd.train_errors(w, x, labels) == 0
    assert perceptron.train_errors(w, x, labels) == 0
    assert sgd.loss_and_grad(w, x, labels, g, **kw) < 0.5 * first


# ---------------------------------------------------------------- determinism
def _threads():
    return min(2, numba.config.NUMBA_NUM_THREADS)


def test_results_independent_of_threads():
    if _threads() < 2:
        pytest.skip("needs 2 numba threads")
    rng = np.random.default_rng(2)
    k, n, p = 5, 600, 120
    cases = []
    for fc in (False, True):
        w = rng.normal(size=(k, n))
        x = rng.normal(size=(p, n if fc else k * n))
        cases.append((fc, w, x, rng.choice([-1.0, 1.0], size=p)))
    y = 4
    xr = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    lr_ = rng.choice(np.array([-1, 1]), size=p)
    H0 = rng.normal(size=(y, 3, n))
    perm = np.array([rng.permutation(p) for _ in range(y)])

    def run(nthreads, parallel=True):
        old = numba.get_num_threads()
        numba.set_num_threads(nthreads)
        try:
            res = []
            for fc, w, x, labels in cases:
                g = np.empty_like(w)
                kw = dict(fully_connected=fc, activation="tanh", parallel=parallel)
                res.append(sgd.loss_and_grad(w, x, labels, g, normalise=True, **kw))
                res.append(g)
                res.append(sgd.forward(w, x, **kw))
                res.append(sgd.train_errors(w, x, labels, **kw))
            H = H0.copy()
            for _ in range(3):
                res.append(
                    sgd.rsgd_binary_epoch(
                        H, xr, lr_, perm, 25, 1.0, 0.5, lam=0.3, parallel=parallel
                    )
                )
            res.append(H)
            return res
        finally:
            numba.set_num_threads(old)

    one, two, serial = run(1), run(_threads()), run(1, parallel=False)
    for a, b, c in zip(one, two, serial, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- rSGD
@pytest.mark.parametrize(
    "gamma, flags",
    [(0.3, {}), (math.inf, {}), (0.3, {"hard": True}), (0.3, {"corrected": True})],
)
@pytest.mark.parametrize("shared_perm", [False, True])
def test_rsgd_epoch_matches_reference_exactly(gamma, flags, shared_perm):
    rng = np.random.default_rng(17)
    y, k, n, p = 5, 3, 31, 200
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    labels = rng.choice(np.array([-1, 1]), size=p)
    H = rng.normal(0.0, 0.5, size=(y, k, n))
    H_ref = H.copy()
    for _ in range(6):
        if shared_perm:
            perm = rng.permutation(p)
        else:
            perm = np.array([rng.permutation(p) for _ in range(y)])
        m = sgd.rsgd_binary_epoch(
            H, x, labels, perm, 23, 0.7, gamma, y, lam=0.4, **flags
        )
        m_ref = sgd.rsgd_binary_epoch_reference(
            H_ref, x, labels, perm, 23, 0.7, gamma, y, lam=0.4, **flags
        )
        np.testing.assert_array_equal(m, m_ref)
        np.testing.assert_array_equal(H, H_ref)
    assert m.sum() > 0


@pytest.mark.parametrize("gamma", [0.3, math.inf])
def test_rsgd_tree_epoch_matches_reference_exactly(gamma):
    """Tree committee: unit l reads the input block l, in the kernel and the numpy
    reference alike."""
    rng = np.random.default_rng(23)
    y, k, n, p = 3, 3, 21, 150
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, k * n))
    labels = rng.choice(np.array([-1, 1]), size=p)
    H = rng.normal(0.0, 0.5, size=(y, k, n))
    H_ref = H.copy()
    for _ in range(4):
        perm = np.array([rng.permutation(p) for _ in range(y)])
        kw = dict(lam=0.4, fully_connected=False)
        m = sgd.rsgd_binary_epoch(H, x, labels, perm, 17, 0.7, gamma, y, **kw)
        m_ref = sgd.rsgd_binary_epoch_reference(
            H_ref, x, labels, perm, 17, 0.7, gamma, y, **kw
        )
        np.testing.assert_array_equal(m, m_ref)
        np.testing.assert_array_equal(H, H_ref)
    assert m.sum() > 0
    # a replica's first minibatch moves a unit's fields only along its own block
    H1 = np.zeros((1, k, n)) + 0.1  # all weights +1
    votes = np.sign(x[0].reshape(k, n).sum(axis=1))
    sigma = -np.sign(votes.sum())  # the label the machine gets wrong
    sgd.rsgd_binary_epoch(H1, x[:1], [sigma], [0], 1, 1.0, 0.0, lam=0.0,
                          fully_connected=False)  # fmt: skip
    moved = np.flatnonzero(np.any(H1[0] != 0.1, axis=1))
    assert moved.size >= 1
    for l in moved:
        assert votes[l] != sigma
        np.testing.assert_allclose(H1[0, l] - 0.1, sigma * x[0, l * n : (l + 1) * n])


def test_rsgd_fixes_the_least_wrong_hidden_unit():
    """Hand-made case: K = 3, one pattern, hidden fields (5, -1, -5), sigma = +1."""
    n = 5
    x = np.ones((1, n), dtype=np.int8)
    H = np.array([[[1.0] * 5, [-1.0, -1.0, -1.0, 1.0, 1.0], [-1.0] * 5]])
    expected = H.copy()
    expected[0, 1] += 0.25  # one flip fixes the vote: the unit with |h| = 1
    for ref in (False, True):
        Hk = H.copy()
        epoch = sgd.rsgd_binary_epoch_reference if ref else sgd.rsgd_binary_epoch
        m = epoch(Hk, x, np.array([1]), np.array([0]), 1, 0.25, 1.0, lam=0.0)
        assert m.tolist() == [1]
        np.testing.assert_array_equal(Hk, expected)


def test_rsgd_elastic_pull_formula():
    """No mistakes: only H^a += lam (tanh(gamma y H^c) - W^a), H^c = mean_a W^a."""
    rng = np.random.default_rng(4)
    y, k, n = 3, 1, 7
    x = np.ones((1, n), dtype=np.int8)
    H = rng.normal(size=(y, k, n))
    # four of seven weights positive: h = sum_i W_i > 0, the pattern (sigma = +1) is
    # right for every replica; the other three differ between replicas
    H[:, 0, :4] = np.abs(H[:, 0, :4]) + 0.1
    W = np.where(H > 0, 1.0, -1.0)
    hc = W.mean(axis=0)
    assert np.any(np.abs(hc) < 1)  # the replicas disagree somewhere
    np.testing.assert_array_equal(sgd.rsgd_center(H), hc)
    gamma, lam = 0.7, 0.3
    expected = H + lam * (np.tanh(gamma * y * hc)[None] - W)
    Hk = H.copy()
    m = sgd.rsgd_binary_epoch(
        Hk, x, np.array([1]), np.array([0]), 1, 1.0, gamma, lam=lam
    )
    assert m.tolist() == [0] * y
    np.testing.assert_allclose(Hk, expected, rtol=1e-15, atol=1e-15)
    assert not np.allclose(Hk, H)


def test_rsgd_learns_an_easy_committee():
    rng = np.random.default_rng(1)
    y, k, n, p = 5, 3, 51, 40
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(p, n))
    labels = rng.choice(np.array([-1, 1]), size=p)
    H = np.broadcast_to(rng.choice([-1.0, 1.0], size=(k, n)), (y, k, n)).copy()

    def errors():
        return [
            committee.train_errors(np.where(h > 0, 1, -1), x, labels, k, True)
            for h in H
        ]

    start = errors()
    gamma = 0.05
    for _ in range(300):
        perm = np.array([rng.permutation(p) for _ in range(y)])
        sgd.rsgd_binary_epoch(H, x, labels, perm, 10, 2.0, gamma, lam=0.75)
        gamma += 0.01
        if min(errors()) == 0:
            break
    assert min(start) > 5
    assert min(errors()) == 0


# ---------------------------------------------------------------- boundary
def test_validation():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 5))
    x = rng.normal(size=(4, 15))
    lab = np.ones(4)
    g = np.empty_like(w)
    with pytest.raises(ValueError, match="activation must be one of"):
        sgd.forward(w, x, activation="softmax")
    with pytest.raises(ValueError, match="x must be"):
        sgd.forward(w, x[:, :10])
    with pytest.raises(ValueError, match="normalise must be False"):
        sgd.forward(w, x, normalise=True, binary=True)
    with pytest.raises(ValueError, match="readout must have shape"):
        sgd.forward(w, x, readout=np.ones(2))
    with pytest.raises(ValueError, match="rows must be"):
        sgd.forward(w, x, rows=[0, 4])
    with pytest.raises(ValueError, match="linear, tanh or relu"):
        sgd.loss_and_grad(w, x, lab, g, activation="sign")
    with pytest.raises(ValueError, match="loss must be one of"):
        sgd.loss_and_grad(w, x, lab, g, loss="logistic")
    with pytest.raises(ValueError, match="gamma must be > 0, got 0.0"):
        sgd.loss_and_grad(w, x, lab, g, gamma=0.0)
    with pytest.raises(ValueError, match="grad_out must be"):
        sgd.loss_and_grad(w, x, lab, np.empty((5, 3)))
    with pytest.raises(ValueError, match="labels must have shape"):
        sgd.loss_and_grad(w, x, lab[:3], g)
    H = np.zeros((2, 3, 15))
    xr = np.ones((4, 15), dtype=np.int8)
    with pytest.raises(ValueError, match="y must equal"):
        sgd.rsgd_binary_epoch(H, xr, [1, 1, 1, 1], np.arange(4), 2, 1.0, 1.0, 3, lam=1)
    with pytest.raises(ValueError, match="perm must be a permutation"):
        sgd.rsgd_binary_epoch(H, xr, [1, 1, 1, 1], [0, 0, 1, 2], 2, 1.0, 1.0, lam=1)
    with pytest.raises(ValueError, match="batch must be >= 1"):
        sgd.rsgd_binary_epoch(H, xr, [1, 1, 1, 1], np.arange(4), 0, 1.0, 1.0, lam=1)
    with pytest.raises(ValueError, match="H must be"):
        sgd.rsgd_binary_epoch(H[:, :, ::2], xr, [1] * 4, np.arange(4), 2, 1.0, 1, lam=1)


def test_bench_runs():
    res = sgd.bench_sgd_epoch(n=60, k=3, batch=10, p=40, epochs=1)
    for key in ("numba_parallel", "numba_serial", "numpy"):
        assert res[key] > 0
