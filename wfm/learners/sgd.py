"""``sgd-ce``: minibatch SGD on the cross-entropy ``f_gamma``, gamma scheduled [P1].

Every epoch visits the patterns in a fresh random order, in minibatches of ``batch``,
each followed by ``W -= lr grad``; ``gamma`` and ``lr`` are schedules of the epoch
(:mod:`wfm.learners.schedules`). The run stops at zero training errors.

* Spherical perceptron: fields ``W . xi / |W|`` (``normalise=True`` in
  :mod:`wfm.kernels.sgd`), so the gradient is tangent to the sphere, and ``W`` is put
  back on ``|W|^2 = N`` after every step: the norm is fixed and ``gamma`` is the only
  inverse temperature ([P1]: growing ``gamma`` = shrinking the temperature).
* Binary models (perceptron, tree and fully connected committees): continuous latent
  weights, the network is ``sign(W)``, the gradient the straight-through estimate;
  committees back-propagate through the ``activation`` of the hidden units while their
  errors are those of the vote of the hidden signs (the model's own rule).

Checkpoints: the head of the epoch loop is a safe point; the state is the weights,
the position (epoch, errors, last loss) and the state of the ``learner`` stream, so a
resumed run continues bit for bit.
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


def learn(problem, params, ctx) -> LearnerResult:
    """Minimise the minibatch loss by SGD until zero training errors.

    :func:`minibatch_descent` without perturbation; see it for the arguments.
    """
    return minibatch_descent(problem, params, ctx, desc="sgd-ce")


def minibatch_descent(problem, params, ctx, *, rho=0.0, adaptive=False, desc="sgd"):
    """The minibatch loop of ``sgd-ce`` and ``sam``.

    With ``rho > 0`` every step is SAM's (Foret et al. 2021): the gradient ``g`` at
    ``W`` gives the ascent ``eps = rho g / |g|`` (``adaptive``: ASAM, Kwon et al.
    2021, ``eps = rho T^2 g / |T g|`` with ``T = |W|`` elementwise), and ``W`` steps
    along the gradient taken at ``W + eps``.

    Parameters
    ----------
    problem : wfm.learners.Problem
    params : dict
        Resolved parameters (registry entry ``sgd-ce`` or ``sam``).
    ctx : wfm.learners.RunContext
        Streams ``init`` (initial weights) and ``learner`` (minibatch orders).

    Returns
    -------
    LearnerResult
        Binary models: ``sign(W)`` as int8 in the model's weight shape; spherical
        perceptron: float64 ``W`` with ``|W|^2 = N``.
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
    rng = ctx.rng("learner")
    if ctx.resumed is not None:
        w = np.array(ctx.resumed["weights"], dtype=np.float64).reshape(shape)
        pos = dict(ctx.resumed["position"])
        rng.bit_generator.state = ctx.resumed["rng"]
    else:
        w = ctx.rng("init").normal(scale=params["init_scale"], size=shape)
        if not arch.binary:
            project_on_sphere(w)
        errors = sgd.train_errors(w, x, labels, kappa=kappa, **err_net)
        pos = {"epoch": 0, "errors": errors, "loss": math.nan}
    grad = np.empty_like(w)
    if rho > 0.0:
        ascent, probe = np.empty_like(w), np.empty_like(w)
    bar = tqdm(
        total=params["epochs"], initial=pos["epoch"], disable=not ctx.progress,
        desc=desc, unit="epoch", leave=False,
    )  # fmt: skip
    while pos["epoch"] < params["epochs"] and pos["errors"] != 0:
        ctx.checkpoint(
            lambda: {
                "position": dict(pos),
                "weights": w.copy(),
                "rng": rng.bit_generator.state,
            }
        )
        lr, gamma = lr_of(pos["epoch"]), gamma_of(pos["epoch"])
        order = rng.permutation(p)
        total = 0.0
        for start in range(0, p, batch):
            rows = order[start : start + batch]
            total += rows.shape[0] * sgd.loss_and_grad(
                w, x, labels, grad, loss=params["loss"], gamma=gamma, kappa=kappa,
                rows=rows, **net,
            )  # fmt: skip
            if rho > 0.0:
                _sam_ascent(w, grad, rho, adaptive, ascent)
                np.add(w, ascent, out=probe)
                sgd.loss_and_grad(
                    probe, x, labels, grad, loss=params["loss"], gamma=gamma,
                    kappa=kappa, rows=rows, **net,
                )  # fmt: skip
            w[...] -= lr * grad
            if not arch.binary:
                project_on_sphere(w)
        errors = sgd.train_errors(w, x, labels, kappa=kappa, **err_net)
        pos.update(epoch=pos["epoch"] + 1, errors=errors, loss=total / p)
        ctx.trace(
            {
                "epoch": pos["epoch"], "errors": errors, "loss": pos["loss"],
                "norm": float(np.linalg.norm(w) / math.sqrt(w.size)), "gamma": gamma,
                "lr": lr,
            }
        )  # fmt: skip
        bar.update(1)
        bar.set_postfix(errors=errors, refresh=False)
    bar.close()
    if arch.binary:
        out = np.where(w > 0.0, 1, -1).astype(np.int8)
    else:
        out = w.copy()
        project_on_sphere(out)
    out = out.reshape(arch.weight_shape(n_inputs))
    errors = reference_errors(arch, out, x, labels, kappa)
    last = max(pos["epoch"] - 1, 0)
    return LearnerResult(
        weights=out,
        train_errors=errors,
        converged=errors == 0,
        iterations=pos["epoch"],
        attrs={
            "epochs": pos["epoch"],
            "final_loss": pos["loss"],
            "final_gamma": gamma_of(last),
            "final_lr": lr_of(last),
            "latent_norm": float(np.linalg.norm(w) / math.sqrt(w.size)),
        },
    )
