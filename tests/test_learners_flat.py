"""Flatness-seeking gradient learners: ``esgd``, ``sa-gd``, ``swa``, ``rpgd``.

Solutions on easy instances of every model, reproducibility, bit-for-bit resume,
parameter constraints, and one exact check each: Entropy-SGD's degenerate inner loop
is SGD, SA-GD's ascent approaches the true maximum of the loss in the ball (one step
is SAM bit for bit), SWA's running average is the mean of its iterates, RPGD's mean
perturbed gradient is the gradient of the Gaussian-smoothed loss, grad + (sigma^2/2)
grad tr H to O(sigma^4), on a perceptron where both are known in closed form.
"""

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit

from wfm.config import LearnerSpec
from wfm.errors import ConfigError
from wfm.kernels import sgd as kernels
from wfm.learners import Problem, RunContext, get_learner, learn
from wfm.models import get_model, reference_errors

SPHERICAL = get_model("perceptron-spherical")
FLAT = ("esgd", "sa-gd", "swa", "rpgd")


def instance(n, p, seed=0):
    rng = np.random.default_rng(seed)
    x = (2 * rng.integers(0, 2, (p, n)) - 1).astype(np.int8)
    y = (2 * rng.integers(0, 2, p) - 1).astype(np.int8)
    return x, y


@pytest.mark.parametrize("name", FLAT)
def test_solves_the_spherical_perceptron_at_alpha_1(name):
    x, y = instance(201, 201, 0)
    trace = []
    r = learn(name, x, y, model=SPHERICAL.name, seed=0, trace=trace.append)
    assert r.converged and r.train_errors == 0
    assert r.weights.dtype == np.float64 and r.weights.shape == (201,)
    assert np.dot(r.weights, r.weights) == pytest.approx(201, rel=1e-12)
    assert reference_errors(SPHERICAL.architecture(), r.weights, x, y) == 0
    assert trace[-1]["errors"] == 0 and trace[-1]["epoch"] == r.iterations
    assert trace[-1]["loss"] < trace[0]["loss"]
    assert np.isnan(trace[-1]["test_error"])  # no test set


@pytest.mark.parametrize("name", FLAT)
@pytest.mark.parametrize(
    ("model", "k", "n", "p", "params"),
    [
        ("perceptron-binary", 1, 201, 80, {}),
        ("committee-tree", 3, 201, 60, {"lr": 2.0}),
        ("committee-full", 3, 101, 90, {"lr": 2.0}),
    ],
)
def test_solves_easy_binary_instances_via_latent_weights(name, model, k, n, p, params):
    if name == "esgd":
        params = {}  # its lr is the outer step, 1 by default
    if name == "swa" and k > 1:
        # the average of a committee's latent weights over 50 epochs at lr 2 loses
        # the solution (measured); a slow averaging phase keeps it
        params = params | {"swa_lr": 0.05}
    info = get_model(model)
    arch = info.architecture(k)
    x, y = instance(n, p, 1)
    r = learn(name, x, y, model=model, k=k, params=params, seed=1)
    assert r.converged and r.train_errors == 0
    assert r.weights.dtype == np.int8 and r.weights.shape == arch.weight_shape(n)
    assert reference_errors(arch, r.weights, x, y) == 0


@pytest.mark.parametrize("name", FLAT)
def test_reproducible_from_the_seed(name):
    x, y = instance(101, 60, 2)
    a, b, c = (learn(name, x, y, seed=s, params={"epochs": 20}) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.iterations == b.iterations and a.attrs == b.attrs
    assert not np.array_equal(a.weights, c.weights)


@pytest.mark.parametrize(
    ("name", "params", "at"),
    [
        ("esgd", {"noise": 0.01, "epochs": 30}, 5),
        ("sa-gd", {"rho": 0.3, "epochs": 30}, 5),
        ("swa", {"swa_start": 3, "swa_epochs": 6, "dense": True}, 6),
        ("swa", {"swa_start": 3, "swa_epochs": 6}, 6),
        ("rpgd", {"sigma": 0.2, "samples": 2, "antithetic": True, "epochs": 30}, 5),
    ],
)
def test_resumes_bit_for_bit(stop_and_resume, name, params, at):
    """Stop at a safe point (epoch head), resume from the saved state: same result."""
    x, y = instance(101, 101, 7)
    info = get_learner(name)
    params = info.resolve(params, SPHERICAL)
    problem = Problem(x, y, SPHERICAL.architecture())
    full, again = stop_and_resume(info, problem, params, seed=3, at=at)
    assert full.iterations > at
    np.testing.assert_array_equal(again.weights, full.weights)
    assert again.iterations == full.iterations
    assert again.attrs == full.attrs


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("esgd", {"lr": -1}, "learner.lr must be > 0, got -1.0"),
        ("esgd", {"coupling": 0}, "learner.coupling must be > 0, got 0.0"),
        ("esgd", {"inner_steps": 0}, "learner.inner_steps must be >= 1, got 0"),
        ("esgd", {"inner_lr": 0}, "learner.inner_lr must be > 0, got 0.0"),
        ("esgd", {"noise": -1e-3}, "learner.noise must be >= 0, got -0.001"),
        ("esgd", {"average": 0}, "learner.average must be in (0, 1], got 0.0"),
        ("sa-gd", {"rho": -0.1}, "learner.rho must be >= 0, got -0.1"),
        ("sa-gd", {"ascent_steps": 0}, "learner.ascent_steps must be >= 1, got 0"),
        ("swa", {"swa_start": -1}, "learner.swa_start must be >= 0, got -1"),
        ("swa", {"swa_epochs": 0}, "learner.swa_epochs must be >= 1, got 0"),
        ("swa", {"swa_lr": -0.5}, "learner.swa_lr must be >= 0, got -0.5"),
        ("rpgd", {"sigma": -0.1}, "learner.sigma must be >= 0, got -0.1"),
        ("rpgd", {"samples": 0}, "learner.samples must be >= 1, got 0"),
        ("rpgd", {"batch": 0}, "learner.batch must be >= 1, got 0"),
    ],
)
def test_bad_parameters_one_line(name, params, message):
    with pytest.raises(ConfigError) as info:
        LearnerSpec(name, params)
    assert str(info.value) == message


def test_cli_bad_learner_parameter_exits_2(tmp_path, capsys):
    from wfm.cli import main

    code = main(["run", "--model", "perceptron-spherical", "--learner", "esgd",
                 "--set", "inner_lr=-1", "--out", str(tmp_path / "x.h5")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "learner.inner_lr must be > 0, got -1.0" in err
    assert err.count("\n") == 1 and not (tmp_path / "x.h5").exists()


# ------------------------------------------------------------------ esgd
def test_esgd_with_a_degenerate_inner_loop_is_sgd():
    """inner_steps = 1, average = 1, noise = 0, lr * coupling = 1: the outer step is
    W <- W - inner_lr grad L(W), SGD at lr = inner_lr (to rounding)."""
    x, y = instance(101, 300, 5)  # alpha = 3: unsolvable, both run every epoch
    common = {"epochs": 15, "gamma": ["exp", 0.5, 0.1]}
    t_sgd, t_esgd = [], []
    sgd = learn(
        "sgd-ce", x, y, model=SPHERICAL.name, seed=1, trace=t_sgd.append,
        params=common | {"lr": 0.3},
    )  # fmt: skip
    esgd = learn(
        "esgd", x, y, model=SPHERICAL.name, seed=1, trace=t_esgd.append,
        params=common | {"lr": 2.0, "coupling": 0.5, "inner_steps": 1,
                         "average": 1.0, "noise": 0.0, "inner_lr": 0.3},
    )  # fmt: skip
    assert sgd.iterations == esgd.iterations == 15
    np.testing.assert_allclose(esgd.weights, sgd.weights, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        [t["loss"] for t in t_esgd], [t["loss"] for t in t_sgd], rtol=1e-10
    )
    # a real inner loop takes another path
    other = learn("esgd", x, y, model=SPHERICAL.name, seed=1, params=common)
    assert np.abs(other.weights - sgd.weights).max() > 1e-3


# ------------------------------------------------------------------ sa-gd
def test_sagd_with_one_ascent_step_is_sam_bit_for_bit():
    x, y = instance(101, 60, 1)
    for adaptive in (False, True):
        p = {"rho": 0.5, "adaptive": adaptive, "epochs": 60}
        sam = learn("sam", x, y, params=p, seed=2)
        sagd = learn("sa-gd", x, y, params=p | {"ascent_steps": 1}, seed=2)
        np.testing.assert_array_equal(sam.weights, sagd.weights)
        assert sam.iterations == sagd.iterations


def test_sagd_ascent_approaches_the_maximal_loss_in_the_ball():
    """N = 2: the maximum of the (convex) loss over the disk lies on its circle, found
    by a fine grid; SAM's linearised step falls short, more ascent steps close in."""
    from wfm.learners.sagd import SAGDRule
    from wfm.learners.sgd import SAMRule

    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 2))
    y = np.where(rng.random(30) < 0.5, -1.0, 1.0)
    rows = np.arange(30)

    def grad_of(point, rows, gamma, out):
        return kernels.loss_and_grad(
            point, x, y, out, gamma=gamma, rows=rows, parallel=False
        )

    theta = np.linspace(0.0, 2.0 * np.pi, 4001)
    scratch = np.empty(2)
    for _ in range(5):
        w = rng.standard_normal(2)
        circle = w + np.stack([np.cos(theta), np.sin(theta)], axis=1)
        best = max(grad_of(c, rows, 2.0, scratch) for c in circle)
        found = []
        for cls, steps in ((SAMRule, 1), (SAGDRule, 3), (SAGDRule, 20)):
            params = {"rho": 1.0, "adaptive": False, "ascent_steps": steps}
            rule = cls(params, (2,), grad_of, lambda v: None)
            loss = grad_of(w, rows, 2.0, rule.grad)
            found.append(rule.ascent(w, rows, 2.0, loss))
            assert np.linalg.norm(rule.eps) <= 1.0 + 1e-12
        assert found[0] <= found[1] <= found[2] <= best + 1e-6
        assert best - found[2] <= 0.5 * (best - found[0]) + 1e-9


# ------------------------------------------------------------------ swa
@pytest.mark.parametrize("dense", [False, True])
def test_swa_average_is_the_mean_of_its_iterates(dense):
    from wfm.learners.sgd import minibatch_descent
    from wfm.learners.swa import SWARule

    seen = []

    class Recording(SWARule):
        def add(self, w):
            seen.append(w.copy())
            super().add(w)

    x, y = instance(101, 300, 6)  # unsolvable: averaging starts at swa_start
    info = get_learner("swa")
    params = info.resolve(
        {"swa_start": 4, "swa_epochs": 5, "dense": dense, "batch": 60}, SPHERICAL
    )
    problem = Problem(x, y, SPHERICAL.architecture())
    captured = {}

    class Capture(Recording):
        def attrs(self):
            captured["avg"] = self.avg.copy()
            return super().attrs()

    r = minibatch_descent(problem, params, RunContext(seed=0), Capture)
    assert r.iterations == 9 and r.attrs["averaging_epochs"] == 5
    assert len(seen) == r.attrs["averaged"] == (25 if dense else 5)
    np.testing.assert_allclose(captured["avg"], np.mean(seen, axis=0), rtol=1e-12)
    expected = np.mean(seen, axis=0)
    expected *= np.sqrt(101) / np.linalg.norm(expected)
    np.testing.assert_allclose(r.weights, expected, rtol=1e-12)


def test_swa_starts_averaging_at_zero_errors_and_keeps_the_solution():
    x, y = instance(201, 201, 0)
    trace = []
    r = learn("swa", x, y, model=SPHERICAL.name, seed=0, trace=trace.append)
    start = next(i for i, t in enumerate(trace) if t["averaged"] > 0)
    assert trace[start - 1]["iterate_errors"] == 0  # the iterate solved first
    assert r.attrs["averaged"] == 50 and r.converged


# ------------------------------------------------------------------ rpgd
def _perceptron_ce(w, x, y, gamma):
    """Gradient, grad tr H and the Gaussian-smoothed gradient of the mean ce loss of a
    perceptron with fields Delta = sigma w.xi / sqrt(N) (|xi|^2 = N: the Hessian is
    mean f''(Delta) xi xi^T / N, tr H = mean f''(Delta))."""
    n = x.shape[1]
    a = y[:, None] * x / np.sqrt(n)  # dDelta/dw per pattern
    delta = a @ w

    def f1(d):
        return -expit(-2.0 * gamma * d)

    s = expit(-2.0 * gamma * delta)
    f3 = -4.0 * gamma**2 * s * (1.0 - s) * (1.0 - 2.0 * s)
    grad = (f1(delta) @ a) / len(y)
    grad_trace = (f3 @ a) / len(y)

    def smoothed(sigma):
        # Delta(w + sigma z) = Delta + sigma u, u ~ N(0, 1) exactly since |xi|^2 = N
        u, wt = hermegauss(80)
        wt = wt / wt.sum()
        mean_f1 = f1(delta[:, None] + sigma * u[None, :]) @ wt
        return (mean_f1 @ a) / len(y)

    return grad, grad_trace, smoothed


def test_rpgd_smoothed_gradient_is_grad_plus_half_sigma2_grad_trace():
    x, y = instance(51, 40, 8)
    x, y = x.astype(np.float64), y.astype(np.float64)
    w = np.random.default_rng(0).standard_normal(51)
    grad, grad_trace, smoothed = _perceptron_ce(w, x, y, gamma=1.0)
    for sigma in (0.05, 0.1, 0.2):
        drift = smoothed(sigma) - grad
        expected = 0.5 * sigma**2 * grad_trace
        # the next term is O(sigma^4): relative error O(sigma^2)
        err = np.linalg.norm(drift - expected) / np.linalg.norm(expected)
        assert err < 2.0 * sigma**2


def test_rpgd_mean_perturbed_gradient_matches_the_smoothed_gradient():
    from wfm.learners.rpgd import perturbed_gradient

    x, y = instance(51, 40, 9)
    w = np.random.default_rng(1).standard_normal(51)
    sigma, gamma = 0.4, 1.0
    rows = np.arange(40)
    grad, grad_trace, smoothed = _perceptron_ce(
        w, x.astype(np.float64), y.astype(np.float64), gamma
    )

    def grad_of(point, rows, gamma, out):
        return kernels.loss_and_grad(
            point, x, y, out, gamma=gamma, rows=rows, parallel=False
        )

    # the kernel's gradient at W is the closed form's
    g = np.empty(51)
    grad_of(w, rows, gamma, g)
    np.testing.assert_allclose(g, grad, rtol=1e-12, atol=1e-15)
    rng = np.random.default_rng(2)
    draws = np.empty((3000, 51))
    for row in draws:  # one antithetic pair each: the cheap variant's estimates
        perturbed_gradient(w, rows, gamma, grad_of, sigma, 1, True, rng, row)
    mean = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    target = smoothed(sigma)
    assert np.max(np.abs(mean - target) / se) < 5.0
    # and the estimate sees the curvature term: closer to the smoothed gradient than
    # to the plain one by many standard errors
    assert np.linalg.norm(mean - grad) > 10 * np.linalg.norm(se)


@pytest.mark.parametrize(
    ("learner", "params", "data"),
    [
        ("esgd", {"noise": 0.01, "epochs": 12}, {"kind": "random", "alpha": 1.0}),
        ("rpgd", {"epochs": 12}, {"kind": "random", "alpha": 1.0}),
        (
            "swa",
            {"swa_start": 3, "swa_epochs": 6, "dense": True},
            {"kind": "digits", "classes": "3-8", "max_patterns": 120},
        ),
    ],
)
def test_store_resume_equals_uninterrupted(
    tmp_path, sigterm_at_safe_point, learner, params, data
):
    """Through the run file: SIGTERM at the 5th epoch, ``wfm.resume``: the rule's
    state (SWA's average) and its noise stream survive the checkpoint file."""
    import wfm
    from wfm.config import RunSpec

    if data["kind"] == "digits":
        pytest.importorskip("sklearn")
    config = {
        "model": {"name": "perceptron-spherical", "n": 101},
        "data": data,
        "learner": {"name": learner, **params},
        "seed": 4,
    }
    if data["kind"] == "digits":
        del config["model"]["n"]
    spec = RunSpec.from_dict(config)
    ref = wfm.run(spec, out=tmp_path / "ref.h5")
    sigterm_at_safe_point(5)
    out = tmp_path / "r.h5"
    with pytest.raises(wfm.RunInterrupted):
        wfm.run(spec, out=out, checkpoint_seconds=1e9)
    sigterm_at_safe_point.restore()
    again = wfm.resume(out)
    assert ref.solution.attrs["iterations"] > 5
    np.testing.assert_array_equal(again.weights, ref.weights)
    for key in ref.trace:
        np.testing.assert_array_equal(again.trace[key], ref.trace[key])
