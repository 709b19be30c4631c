"""Replicated SGD for binary weights [P0] (``rsgd``): the binary perceptron (``K = 1``)
and the binary committees, fully connected ([P0]'s machine) or tree (the same rule,
each unit on its input block).

``y`` replicas with continuous hidden fields ``H^a`` (weights ``sign(H^a)``) take
perceptron-rule steps on their misclassified patterns and are pulled towards their
traced-out centre ``H^c = mean_a sign(H^a)`` with the coupling ``gamma``
(:func:`wfm.kernels.sgd.rsgd_binary_epoch`, which documents the algorithm and its one
difference from BinaryCommitteeMachineRSGD.jl). ``lr`` (eta), ``lam`` (lambda) and
``gamma`` are schedules of the epoch; the default ``gamma = ["linear", 0.05, 0.001]``
is the additive protocol of the reference code's documented example (N = 321, K = 5,
y = 7, batch 80, lambda = 0.75, eta = 2, gamma_0 = 0.05, gamma_step = 0.001). As
there, every replica starts from the same random ±1 fields, and the run stops when the
centre ``sign(H^c)`` (``+1`` where ``H^c > 0``) or, unless ``wait_center``, any
replica has zero training errors; the zero-error network is returned (the centre
first).

Continuous weights (spherical perceptron), the replicated SGD of [P2] (Pittorino et
al., ICLR 2021) on the loop of ``sgd-ce`` (:class:`ReplicatedRule`): ``y`` replicas
``W^a``, drawn independently (stream ``init``), each take on every minibatch the step
``W^a -= lr (grad L(W^a) + gamma (W^a - W^c))`` of the elastic energy ``sum_a L(W^a) +
(gamma / 2) sum_a |W^a - W^c|^2``, the centre ``W^c`` being its minimiser, the replicas'
mean (traced out), computed at the start of the step; replicas and centre are put
back on ``|W|^2 = N``. All replicas see the same minibatch. ``beta`` is the inverse
temperature of the ce loss (``sgd-ce``'s ``gamma``), ``gamma`` the coupling, scoped up;
``lam``, ``pull`` and ``wait_center`` concern the binary version only. The run stops
when the centre has zero errors; the centre is the solution.

Checkpoints: the head of the epoch loop is a safe point (fields, position, state of
the ``learner`` stream; continuous: the replicas too); a resumed run continues bit for
bit.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from wfm.backends import kernels
from wfm.learners._result import LearnerResult
from wfm.learners.schedules import parse_schedule
from wfm.learners.sgd import StepRule, minibatch_descent
from wfm.models import reference_errors

#: multiply-adds of an epoch from which the replicas run on several threads (the same
#: bits either way); measured on 2 busy cores, N = 321, K = 5, y = 7, P = 802 (9e6):
#: 12 ms serial, 270 ms parallel
PARALLEL_MIN_WORK = 1 << 26


def _binary(h):
    return np.where(h > 0.0, 1, -1).astype(np.int8)


class ReplicatedRule(StepRule):
    """``y`` replicas coupled elastically to their mean; ``w`` is the centre."""

    streams = ("init",)

    def __init__(self, params, shape, grad_of, project):
        super().__init__(params, shape, grad_of, project)
        self.y = params["y"]
        self.coupling_of = parse_schedule(params["coupling"])
        self.coupling = self.coupling_of(0)
        self.replicas = np.empty((self.y, *shape))
        self.beta = 0.0

    def start(self, w):
        # independent replicas; w (the loop's draw) becomes their centre
        rng = self.rngs["init"]
        for r in self.replicas:
            r[...] = rng.normal(scale=self.params["init_scale"], size=r.shape)
            self.project(r)
        self._centre(w)

    def _centre(self, w):
        np.mean(self.replicas, axis=0, out=w)
        self.project(w)

    def state(self):
        return {"replicas": self.replicas.copy()}

    def restore(self, state):
        self.replicas[...] = np.asarray(state["replicas"]).reshape(self.replicas.shape)

    def begin_epoch(self, t):
        self.coupling = self.coupling_of(t)

    def step(self, w, rows, lr, gamma):
        self.beta = gamma
        centre = np.mean(self.replicas, axis=0)
        total = 0.0
        for r in self.replicas:
            total += self.grad_of(r, rows, gamma, self.grad)
            self.grad += self.coupling * (r - centre)
            r -= lr * self.grad
            self.project(r)
        self._centre(w)
        return total / self.y

    def end_epoch(self, w, t):
        errors = [self.errors_of(r) for r in self.replicas]
        dist = np.linalg.norm(self.replicas - w, axis=tuple(range(1, w.ndim + 1)))
        return {
            "gamma": self.coupling, "beta": self.beta,
            "min_replica_errors": int(min(errors)),
            "distance": float(np.mean(dist) / np.sqrt(w.size)),
        }  # fmt: skip


def _continuous(problem, params, ctx):
    """Replicated SGD on continuous weights (:class:`ReplicatedRule`)."""
    loop = {**params, "gamma": params["beta"], "coupling": params["gamma"]}
    loop["activation"] = "linear"  # perceptrons only
    result = minibatch_descent(problem, loop, ctx, ReplicatedRule, desc="rsgd")
    # the binary version's names: gamma the coupling, beta the loss's temperature
    result.attrs["final_beta"] = result.attrs.pop("final_gamma")
    last = max(result.iterations - 1, 0)
    result.attrs["final_gamma"] = parse_schedule(params["gamma"])(last)
    return result


def learn(problem, params, ctx) -> LearnerResult:
    """Train ``y`` coupled binary replicas until one network has zero errors.

    Parameters
    ----------
    problem : wfm.learners.Problem
        Binary perceptron or committee, fully connected or tree (``kappa = 0``), or
        the spherical perceptron.
    params : dict
        Resolved parameters (registry entry ``rsgd``).
    ctx : wfm.learners.RunContext
        Streams ``init`` (initial fields) and ``learner`` (visiting orders).

    Returns
    -------
    LearnerResult
        int8 ±1 weights in the model's weight shape (spherical perceptron: the
        centre, float64 on ``|W|^2 = N``).
    """
    arch = problem.arch
    if not arch.binary and not arch.hidden:
        return _continuous(problem, params, ctx)
    sgd = kernels("sgd", ctx.device)
    if arch.parity or not arch.binary:
        raise ValueError("rsgd needs a binary perceptron or committee")
    x, labels = problem.patterns, problem.labels
    p, n_inputs = x.shape
    n = arch.fan_in(n_inputs)
    tree = arch.hidden and not arch.fully_connected
    k, y = arch.k, params["y"]
    lr_of, lam_of = parse_schedule(params["lr"]), parse_schedule(params["lam"])
    gamma_of = parse_schedule(params["gamma"])
    hard, corrected = params["pull"] == "hard", params["pull"] == "corrected"
    vote = {"fully_connected": not tree, "activation": "sign", "binary": True}
    if not arch.hidden:
        vote = {"activation": "linear", "binary": True}
    parallel = p * n * k * y >= PARALLEL_MIN_WORK

    def errors_of(h, xs=x, ys=labels):
        w = h[0] if not arch.hidden else h
        return sgd.train_errors(w, xs, ys, parallel=parallel, **vote)

    def test_error(h):
        """Fraction of misclassified test patterns (NaN without a test set)."""
        if problem.test_patterns is None or len(problem.test_labels) == 0:
            return float("nan")
        wrong = errors_of(h, problem.test_patterns, problem.test_labels)
        return wrong / len(problem.test_labels)

    rng = ctx.rng("learner")
    if ctx.resumed is not None:
        H = np.array(ctx.resumed["fields"], dtype=np.float64).reshape(y, k, n)
        pos = dict(ctx.resumed["position"])
        rng.bit_generator.state = ctx.resumed["rng"]
    else:
        h0 = np.where(ctx.rng("init").random((k, n)) < 0.5, -1.0, 1.0)
        H = np.ascontiguousarray(np.broadcast_to(h0, (y, k, n)))
        pos = {"epoch": 0, "errors": errors_of(h0), "best": 0}
        pos["min_replica_errors"] = pos["errors"]
    bar = tqdm(
        total=params["epochs"], initial=pos["epoch"], disable=not ctx.progress,
        desc="rsgd", unit="epoch", leave=False,
    )  # fmt: skip

    def done():
        return pos["errors"] == 0 or (
            not params["wait_center"] and pos["min_replica_errors"] == 0
        )

    while pos["epoch"] < params["epochs"] and not done():
        ctx.checkpoint(
            lambda: {
                "position": dict(pos),
                "fields": H.copy(),
                "rng": rng.bit_generator.state,
            }
        )
        t = pos["epoch"]
        gamma = gamma_of(t)
        perm = np.array([rng.permutation(p) for _ in range(y)])
        sgd.rsgd_binary_epoch(
            H, x, labels, perm, params["batch"], lr_of(t), gamma, lam=lam_of(t),
            hard=hard, corrected=corrected, fully_connected=not tree,
            parallel=parallel,
        )  # fmt: skip
        centre = np.where(sgd.rsgd_center(H) > 0.0, 1.0, -1.0)
        replica_errors = [errors_of(h) for h in H]
        best = int(np.argmin(replica_errors))
        distance = float(np.mean(np.where(H > 0.0, 1.0, -1.0) != centre[None]))
        pos.update(
            epoch=t + 1, errors=errors_of(centre), best=best,
            min_replica_errors=int(replica_errors[best]),
        )  # fmt: skip
        ctx.trace(
            {
                "epoch": t + 1, "errors": pos["errors"],
                "min_replica_errors": pos["min_replica_errors"],
                "distance": distance, "gamma": gamma, "test_error": test_error(centre),
            }
        )  # fmt: skip
        bar.update(1)
        bar.set_postfix(errors=pos["errors"], refresh=False)
    bar.close()
    centre = sgd.rsgd_center(H)
    use_replica = pos["errors"] != 0 and pos["min_replica_errors"] == 0
    w = _binary(H[pos["best"]]) if use_replica else _binary(centre)
    nets_weights = w.astype(np.float64)
    w = w.reshape(arch.weight_shape(n_inputs))
    errors = reference_errors(arch, w, x, labels, problem.kappa)
    return LearnerResult(
        weights=w,
        train_errors=errors,
        converged=errors == 0,
        iterations=pos["epoch"],
        attrs={
            "epochs": pos["epoch"],
            "centre_errors": pos["errors"],
            "min_replica_errors": pos["min_replica_errors"],
            "solution_from": "replica" if use_replica else "centre",
            "final_gamma": gamma_of(max(pos["epoch"] - 1, 0)),
            **(
                {"test_error": test_error(nets_weights)}
                if problem.test_patterns is not None
                else {}
            ),
        },
    )
