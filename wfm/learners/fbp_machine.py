"""Focusing BP for committee and parity machines with binary weights [P0].

The machine counterpart of :mod:`wfm.learners.fbp`: the same parameters and focusing
protocols (:mod:`wfm.learners.protocols`), the sweeps of
:func:`wfm.kernels.bp_committee.bp_machine_sweep`, a stop at zero training errors of
``sign(H)`` after every sweep. ``wfm run --model committee-tree --learner fbp`` lands
here (:func:`wfm.api.run` dispatches on the model).

Models and conventions (``N`` = ``model.n`` inputs, ``K`` = ``model.k`` hidden units):

* ``"committee-tree"``, ``"parity"``: disjoint blocks of ``n = N/K`` inputs, ``N``
  weights, returned flat ``(N,)`` (block ``l`` = ``W[l n:(l+1) n]``);
* ``"committee-full"``: every unit sees the ``N`` inputs, ``K N`` weights, returned as
  ``(K, N)``. The permutation symmetry of the hidden units is broken by the random
  initial messages (``randfact``); the normalised overlaps of the hidden units'
  weight vectors ``q_kl = W_k . W_l / N`` are reported in ``attrs``
  (``hidden_overlaps``,
  the largest off-diagonal ``|q_kl|`` as ``max_hidden_overlap``), since two units
  collapsing onto the same weights is the failure mode of a symmetric start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wfm.kernels import bp_committee as bpc
from wfm.learners._result import LearnerResult
from wfm.learners.fbp import DEFAULTS as _FBP_DEFAULTS
from wfm.learners.fbp import focus

__all__ = ["DEFAULTS", "MACHINE_MODELS", "MachineBPState", "learn"]

DEFAULTS = {
    **_FBP_DEFAULTS,
    "dr": 0.005,
    "randfact": 0.1,
    "shards": 2,
    "interleave": False,
    "hidden_field": 0.0,
}
"""fBP defaults for machines (``wfm.config`` swaps them in for machine models).

Measured on the reference's documented instance (fully connected, N = 321, K = 5,
alpha = 0.3, 10 seeds, one damped sweep per protocol step): the reference's settings
(``dr = 0.01``, ``randfact = 0.1``, damping 0.5) solve 7/10 with ``shards = 2``, 3/10
fully sequential (``shards = 1``), 4/10 with the reference's schedule (sequential,
focusing factors interleaved with the patterns, ``interleave = True``); halving the
protocol step (``dr = 0.005``) solves 10/10. ``randfact = 0.1`` breaks the
hidden-unit symmetry of the fully connected machine. ``interleave``: focusing factors
visited among the patterns (see :func:`wfm.kernels.bp_committee.bp_machine_sweep`).
``hidden_field``: scale of random initial hidden-unit messages (see
:meth:`MachineBPState.new`).
"""

MACHINE_MODELS = ("committee-tree", "committee-full", "parity")

#: below this many weight-factor edges a sweep runs its shards on one thread
PARALLEL_MIN_EDGES = 200_000


@dataclass
class MachineBPState:
    """Messages of BP on one committee/parity-machine instance (style.md #5).

    ``x``/``labels`` the data, ``stride`` the input offset between units (``n`` tree,
    ``0`` fully connected), ``u``/``t`` ``(P, K, n)`` input-factor -> weight fields,
    ``vup``/``vdn`` ``(P, K)`` hidden-unit messages, ``U``/``ext``/``f`` ``(K, n)``
    pattern, external and focusing fields (see :mod:`wfm.kernels.bp_committee`).
    """

    x: np.ndarray
    labels: np.ndarray
    stride: int
    parity: bool
    u: np.ndarray
    t: np.ndarray
    vup: np.ndarray
    vdn: np.ndarray
    U: np.ndarray
    ext: np.ndarray
    f: np.ndarray
    rng: np.random.Generator
    sweeps: int = 0

    @classmethod
    def new(
        cls, patterns, labels, *, model, k, rng, randfact=0.01, ext=None,
        hidden_field=0.0,
    ):  # fmt: skip
        """Fresh messages: ``u = atanh(randfact U(-1, 1))``, hidden messages 0.

        With ``hidden_field > 0`` the output factor -> hidden unit messages start at
        ``vdn[mu] = hidden_field tau^mu``, ``tau^mu`` a random hidden configuration
        that the output factor accepts (``prod_k tau_k = sigma`` for parity, majority
        ``sigma`` for committees), drawn uniformly. This breaks the symmetry of the
        parity machine, whose output messages ``atanh(prod_l tanh vup_l)`` vanish
        at the symmetric start.

        Parameters
        ----------
        patterns : (P, N) array
        labels : (P,) array
        model : {"committee-tree", "committee-full", "parity"}
        k : int
            Hidden units.
        rng : numpy.random.Generator
        randfact : float
            Scale of the random initial messages (breaks the hidden-unit symmetry of
            the fully connected machine).
        ext : array, optional
            External fields, ``(K, n)`` or flat.
        hidden_field : float
            Scale of the initial output -> hidden messages (see above).
        """
        if model not in MACHINE_MODELS:
            raise ValueError(f"model must be one of {MACHINE_MODELS}; got {model!r}")
        x = np.asarray(patterns)
        x = x if x.dtype == np.int8 else x.astype(np.float64)
        p, n_in = x.shape
        full = model == "committee-full"
        n = n_in if full else n_in // k
        u = np.arctanh(randfact * (2.0 * rng.random((p, k, n)) - 1.0))
        ext = (
            np.zeros((k, n))
            if ext is None
            else np.asarray(ext, dtype=np.float64).reshape(k, n).copy()
        )
        vdn = np.zeros((p, k))
        if hidden_field > 0.0:
            lab = np.asarray(labels, dtype=np.float64)
            tau = rng.choice((-1.0, 1.0), size=(p, k))
            if model == "parity":
                tau[:, -1] = lab * np.prod(tau[:, :-1], axis=1)
            else:  # K odd: flipping every unit flips the majority
                tau *= np.where(np.sign(tau.sum(axis=1)) == lab, 1.0, -1.0)[:, None]
            vdn = hidden_field * tau
        return cls(
            x=np.ascontiguousarray(x),
            labels=np.asarray(labels, dtype=np.float64),
            stride=0 if full else n,
            parity=model == "parity",
            u=u,
            t=np.tanh(u),
            vup=np.zeros((p, k)),
            vdn=vdn,
            U=u.sum(axis=0),
            ext=ext,
            f=np.zeros((k, n)),
            rng=rng,
        )

    @property
    def fields(self):
        """Total fields ``H`` ``(K, n)`` (patterns + external + focusing)."""
        return self.U + self.ext + self.f

    @property
    def magnetizations(self):
        return np.tanh(self.fields)

    def weights(self):
        """Binary weights ``sign(H)`` ``(K, n)`` int8 (ties to +1)."""
        return np.where(self.fields >= 0.0, 1, -1).astype(np.int8)

    def errors(self):
        return bpc.count_machine_errors(
            self.x, self.labels, self.weights(), self.stride, parity=self.parity
        )

    def sweep(self, *, shards, damping=0.0, gamma=0.0, r=0.0, interleave=False):
        p = self.u.shape[0]
        perm = self.rng.permutation(p + self.U.size if interleave else p)
        self.sweeps += 1
        return bpc.bp_machine_sweep(
            self.x,
            self.labels,
            self.stride,
            self.u,
            self.t,
            self.vup,
            self.vdn,
            self.U,
            self.ext,
            self.f,
            perm,
            parity=self.parity,
            shards=shards,
            damping=damping,
            gamma=gamma,
            r=r,
            interleave=interleave,
            # same result either way; threads only pay off on large instances
            parallel=self.u.size >= PARALLEL_MIN_EDGES,
        )


def hidden_overlaps(w):
    """``q_kl = W_k . W_l / n`` of a ``(K, n)`` weight array."""
    w = np.asarray(w, dtype=np.float64)
    return w @ w.T / w.shape[1]


def learn(
    patterns,
    labels,
    *,
    params,
    kappa=0.0,
    rng,
    trace=None,
    progress=False,
    model="committee-tree",
    k=3,
):
    """Find zero-error binary weights of a committee/parity machine with fBP.

    Parameters
    ----------
    patterns : (P, N) array
        ±1 (int8) or Gaussian patterns.
    labels : (P,) int8 array
    params : dict
        Learner parameters, the keys of :data:`wfm.learners.fbp.DEFAULTS`.
    kappa : float
        Must be 0: the machines have no margin (as in :mod:`wfm.kernels.enumerate`).
    rng : numpy.random.Generator
    trace : callable, optional
        Called after every sweep with a dict (``iteration, step, gamma, y, maxdiff,
        errors``).
    progress : bool
    model : {"committee-tree", "committee-full", "parity"}
    k : int
        Hidden units.

    Returns
    -------
    LearnerResult
        ``weights`` flat ``(N,)`` for tree/parity, ``(K, N)`` for committee-full.
    """
    if kappa != 0.0:
        raise ValueError(f"kappa must be 0 for {model}, got {kappa}")
    p = {**DEFAULTS, **params}
    state = MachineBPState.new(
        patterns,
        labels,
        model=model,
        k=k,
        rng=rng,
        randfact=p["randfact"],
        hidden_field=float(p.get("hidden_field", 0.0)),
    )
    out = focus(
        state,
        p,
        trace=trace,
        progress=progress,
        desc=f"fBP {model}",
        interleave=bool(p.get("interleave", False)),
    )
    w = state.weights()
    q = hidden_overlaps(w)
    off = q[~np.eye(k, dtype=bool)]
    return LearnerResult(
        weights=w if model == "committee-full" else w.reshape(-1),
        train_errors=out.errors,
        converged=out.errors == 0,
        iterations=state.sweeps,
        attrs={
            **out.attrs(),
            "hidden_overlaps": q,
            "max_hidden_overlap": float(np.abs(off).max()) if off.size else 0.0,
        },
    )
