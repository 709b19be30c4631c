"""``sgd-ce``: minibatch SGD on the cross-entropy ``f_gamma``, gamma scheduled [P1];
and the minibatch loop every gradient learner on continuous (or latent) weights runs.

Every epoch visits the patterns in a fresh random order, in minibatches of ``batch``,
each followed by one step of the learner's :class:`StepRule` (plain SGD: ``W -= lr
grad``); ``gamma`` and ``lr`` are schedules of the epoch
(:mod:`wfm.learners.schedules`). The run stops at zero training errors of the
network the rule returns (:meth:`StepRule.network`; SWA: its average).

* Spherical perceptron: fields ``W . xi / |W|`` (``normalise=True`` in
  :mod:`wfm.kernels.sgd`), so the gradient is tangent to the sphere, and ``W`` is put
  back on ``|W|^2 = N`` after every step: the norm is fixed and ``gamma`` is the only
  inverse temperature ([P1]: growing ``gamma`` = shrinking the temperature).
* Binary models (perceptron, tree and fully connected committees): continuous latent
  weights, the network is ``sign(W)``, the gradient the straight-through estimate;
  committees back-propagate through the ``activation`` of the hidden units while their
  errors are those of the vote of the hidden signs (the model's own rule).

The learners ``sam``, ``sa-gd``, ``esgd``, ``swa`` and ``rpgd`` are this loop with
another :class:`StepRule` (one subclass each, in their modules).

Checkpoints: the head of the epoch loop is a safe point; the state is the weights,
the position (epoch, errors, last loss), the state of the ``learner`` stream, the
rule's own arrays and the states of the streams it draws from, so a resumed run
continues bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from tqdm.auto import tqdm

from wfm.backends import kernels
from wfm.learners._result import LearnerResult
from wfm.learners.schedules import parse_schedule
from wfm.models import reference_errors


def _options(arch, params, n_inputs):
    """Kernel options of the network, of its error count, and the weight shape."""
    shape = (arch.k, arch.fan_in(n_inputs)) if arch.hidden else (n_inputs,)
    net = {
        "fully_connected": arch.fully_connected,
        "activation": params["activation"] if arch.hidden else "linear",
        "normalise": not arch.binary,
        "binary": arch.binary,
    }
    return net, net | ({"activation": "sign"} if arch.hidden else {}), shape


#: below this many multiply-adds a minibatch runs on one thread (the kernels give the
#: same bits either way; on small problems thread start-up costs more than it saves)
PARALLEL_MIN_WORK = 1 << 21


def _sam_ascent(w, g, rho, adaptive, out):
    """SAM's ``eps = rho g / |g|``, or ASAM's ``rho T^2 g / |T g|`` (``T = |w|``)."""
    if adaptive:
        np.multiply(np.abs(w), g, out=out)
        norm = np.linalg.norm(out)
        out *= np.abs(w)
    else:
        out[...] = g
        norm = np.linalg.norm(g)
    if norm > 0.0:
        out *= rho / norm
    else:
        out[...] = 0.0


def project_on_sphere(w):
    """Rescale each row of ``w`` (or ``w`` itself) in place to ``|w_l|^2 = n``."""
    w2 = w.reshape(-1, w.shape[-1])
    w2 *= np.sqrt(w2.shape[1]) / np.linalg.norm(w2, axis=1)[:, None]


def _keep(w):
    """Latent binary weights are not projected."""


class StepRule:
    """One minibatch step of a gradient learner; this base class is plain SGD.

    The loop (:func:`minibatch_descent`) owns the weights ``w``, the epochs, the
    minibatch orders, stopping, trace and checkpoints; a rule owns what happens on one
    minibatch and any state of its own. Subclasses override what they change.

    Parameters
    ----------
    params : dict
        The learner's resolved parameters.
    shape : tuple
        Shape of the (latent) weights.
    grad_of : callable
        ``grad_of(point, rows, gamma, out) -> loss``: the minibatch-mean loss at
        ``point`` and its gradient into ``out`` (the kernel, bound to the problem).
    project : callable
        Puts weights back on their manifold in place (the sphere ``|W_l|^2 = n`` for
        continuous weights; nothing for latent binary weights).

    Attributes
    ----------
    streams : tuple of str
        Names of the :meth:`~wfm.learners.RunContext.rng` streams the rule draws from.
    rngs : dict
        Those streams (set by the loop).
    errors_of : callable
        ``errors_of(w) -> int``, training errors of latent weights ``w`` (set by the
        loop).
    """

    streams: tuple = ()

    def __init__(self, params, shape, grad_of, project):
        self.params = params
        self.grad_of = grad_of
        self.project = project
        self.grad = np.empty(shape)
        self.rngs = {}
        self.errors_of = None

    # -- state -------------------------------------------------------------
    def start(self, w) -> None:
        """A fresh run begins at ``w``."""

    def state(self) -> dict:
        """The rule's own state at the epoch head (copies), for a checkpoint."""
        return {}

    def restore(self, state: dict) -> None:
        """Inverse of :meth:`state`."""

    # -- the epoch -----------------------------------------------------------
    def begin_epoch(self, t: int) -> None:
        """Epoch ``t`` (0-based) starts (rules read their own schedules here)."""

    def step(self, w, rows, lr, gamma) -> float:
        """One minibatch: update ``w`` in place; return the minibatch loss."""
        loss = self.grad_of(w, rows, gamma, self.grad)
        w -= lr * self.grad
        self.project(w)
        return loss

    def end_epoch(self, w, t: int) -> dict:
        """Epoch ``t`` ended; extra trace values."""
        return {}

    # -- outcome -------------------------------------------------------------
    def network(self, w):
        """The (latent) weights of the network the learner stands for now."""
        return w

    def done(self, errors: int) -> bool:
        """Stop now, given the network's training errors."""
        return errors == 0

    def attrs(self) -> dict:
        """Extra scalar results of the run."""
        return {}


class SAMRule(StepRule):
    """SAM (Foret et al. 2021): the gradient at ``W + eps``, ``eps = rho g / |g|``
    (``adaptive``: ASAM, Kwon et al. 2021, ``eps = rho T^2 g / |T g|``, ``T = |W|``).
    Traces ``sharpness``, the epoch mean of ``L(W + eps) - L(W)`` on the minibatch."""

    def __init__(self, params, shape, grad_of, project):
        super().__init__(params, shape, grad_of, project)
        self.rho, self.adaptive = params["rho"], params["adaptive"]
        self.eps, self.probe = np.empty(shape), np.empty(shape)
        self._sharp, self._steps = 0.0, 0

    def ascent(self, w, rows, gamma, loss) -> float:
        """Set ``self.eps`` (from the gradient at ``w`` in ``self.grad``); return the
        loss at ``w + eps`` with its gradient in ``self.grad``."""
        _sam_ascent(w, self.grad, self.rho, self.adaptive, self.eps)
        np.add(w, self.eps, out=self.probe)
        return self.grad_of(self.probe, rows, gamma, self.grad)

    def step(self, w, rows, lr, gamma):
        loss = self.grad_of(w, rows, gamma, self.grad)
        if self.rho > 0.0:
            worst = self.ascent(w, rows, gamma, loss)
            self._sharp += worst - loss
            self._steps += 1
        w -= lr * self.grad
        self.project(w)
        return loss

    def end_epoch(self, w, t):
        out = {"sharpness": self._sharp / self._steps if self._steps else 0.0}
        self._sharp, self._steps = 0.0, 0
        return out


def learn(problem, params, ctx) -> LearnerResult:
    """Minimise the minibatch loss by SGD until zero training errors.

    :func:`minibatch_descent` with the plain SGD rule; see it for the arguments.
    """
    return minibatch_descent(problem, params, ctx, StepRule, desc="sgd-ce")


def _test_error(sgd, w, problem, err_net):
    """Fraction of misclassified test patterns (NaN without a test set)."""
    if problem.test_patterns is None or len(problem.test_labels) == 0:
        return math.nan
    wrong = sgd.train_errors(
        w, problem.test_patterns, problem.test_labels, kappa=0.0, **err_net
    )
    return wrong / len(problem.test_labels)


def minibatch_descent(problem, params, ctx, rule_class=StepRule, *, desc="sgd"):
    """The minibatch loop of every gradient learner on (latent) continuous weights.

    Parameters
    ----------
    problem : wfm.learners.Problem
        With a test set, the test error of the network is traced every epoch.
    params : dict
        Resolved parameters (``epochs``, ``batch``, ``lr``, ``gamma``, ``loss``,
        ``init_scale``, ``activation`` and the rule's own).
    ctx : wfm.learners.RunContext
        Streams ``init`` (initial weights), ``learner`` (minibatch orders) and the
        rule's :attr:`StepRule.streams`.
    rule_class : type
        A :class:`StepRule` subclass: what one minibatch step does.
    desc : str
        Label of the progress bar.

    Returns
    -------
    LearnerResult
        Binary models: ``sign(W)`` as int8 in the model's weight shape; spherical
        perceptron: float64 ``W`` with ``|W|^2 = N``; ``W`` the rule's network.
    """
    sgd = kernels("sgd", ctx.device)
    arch = problem.arch
    x, labels, kappa = problem.patterns, problem.labels, problem.kappa
    p, n_inputs = x.shape
    net, err_net, shape = _options(arch, params, n_inputs)
    batch = min(params["batch"], p)
    net["parallel"] = batch * problem.n_weights >= PARALLEL_MIN_WORK
    err_net["parallel"] = p * problem.n_weights >= PARALLEL_MIN_WORK
    lr_of, gamma_of = parse_schedule(params["lr"]), parse_schedule(params["gamma"])

    def grad_of(point, rows, gamma, out):
        return sgd.loss_and_grad(
            point, x, labels, out, loss=params["loss"], gamma=gamma, kappa=kappa,
            rows=rows, **net,
        )  # fmt: skip

    rule = rule_class(
        params, shape, grad_of, _keep if arch.binary else project_on_sphere
    )
    rule.rngs = {name: ctx.rng(name) for name in rule.streams}
    rule.errors_of = lambda v: sgd.train_errors(v, x, labels, kappa=kappa, **err_net)
    rng = ctx.rng("learner")
    if ctx.resumed is not None:
        w = np.array(ctx.resumed["weights"], dtype=np.float64).reshape(shape)
        pos = dict(ctx.resumed["position"])
        rng.bit_generator.state = ctx.resumed["rng"]
        for name, g in rule.rngs.items():
            g.bit_generator.state = ctx.resumed["streams"][name]
        rule.restore(ctx.resumed.get("rule", {}))
    else:
        w = ctx.rng("init").normal(scale=params["init_scale"], size=shape)
        if not arch.binary:
            project_on_sphere(w)
        rule.start(w)
        errors = sgd.train_errors(rule.network(w), x, labels, kappa=kappa, **err_net)
        pos = {"epoch": 0, "errors": errors, "loss": math.nan}
    bar = tqdm(
        total=params["epochs"], initial=pos["epoch"], disable=not ctx.progress,
        desc=desc, unit="epoch", leave=False,
    )  # fmt: skip
    while pos["epoch"] < params["epochs"] and not rule.done(pos["errors"]):
        ctx.checkpoint(
            lambda: {
                "position": dict(pos),
                "weights": w.copy(),
                "rng": rng.bit_generator.state,
                "streams": {k: g.bit_generator.state for k, g in rule.rngs.items()},
                "rule": rule.state(),
            }
        )
        t = pos["epoch"]
        lr, gamma = lr_of(t), gamma_of(t)
        rule.begin_epoch(t)
        order = rng.permutation(p)
        total = 0.0
        for start in range(0, p, batch):
            rows = order[start : start + batch]
            total += rows.shape[0] * rule.step(w, rows, lr, gamma)
        extra = rule.end_epoch(w, t)
        current = rule.network(w)
        errors = sgd.train_errors(current, x, labels, kappa=kappa, **err_net)
        pos.update(epoch=t + 1, errors=errors, loss=total / p)
        ctx.trace(
            {
                "epoch": t + 1, "errors": errors, "loss": pos["loss"],
                "norm": float(np.linalg.norm(w) / math.sqrt(w.size)), "gamma": gamma,
                "lr": lr, "test_error": _test_error(sgd, current, problem, err_net),
                **extra,
            }
        )  # fmt: skip
        bar.update(1)
        bar.set_postfix(errors=errors, refresh=False)
    bar.close()
    final = np.array(rule.network(w), dtype=np.float64)
    if arch.binary:
        out = np.where(final > 0.0, 1, -1).astype(np.int8)
    else:
        out = final
        project_on_sphere(out)
    out = out.reshape(arch.weight_shape(n_inputs))
    errors = reference_errors(arch, out, x, labels, kappa)
    last = max(pos["epoch"] - 1, 0)
    attrs = {
        "epochs": pos["epoch"],
        "final_loss": pos["loss"],
        "final_gamma": gamma_of(last),
        "final_lr": lr_of(last),
        "latent_norm": float(np.linalg.norm(w) / math.sqrt(w.size)),
    }
    if problem.test_patterns is not None:
        attrs["test_error"] = _test_error(sgd, final, problem, err_net)
    return LearnerResult(
        weights=out,
        train_errors=errors,
        converged=errors == 0,
        iterations=pos["epoch"],
        attrs=attrs | rule.attrs(),
    )
