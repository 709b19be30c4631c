"""Mutable BP states, shared by the BP-based learners and measures (style.md #5).

A BP state holds the messages of belief propagation on one instance, the external
fields ``ext`` (e.g. ``lambda W~`` for the local entropy, science.md §3), the focusing
fields ``f`` (fBP, [P0]), the random generator that orders the factors of each sweep
and a ``sweeps`` counter. Two factor graphs, one interface (:class:`BPState`):

* :class:`PerceptronBPState` — binary perceptron, Gaussian cavity approximation
  (:mod:`wfm.kernels.bp`); weights, fields and ``ext`` are ``(N,)``;
* :class:`MachineBPState` — committee and parity machines
  (:mod:`wfm.kernels.bp_committee`); weights, fields and ``ext`` are ``(K, n)``
  (``n = N / K`` tree, ``n = N`` fully connected; a tree machine's flat weights are
  ``W.reshape(-1)``).

:func:`new_bp_state` picks the class from the structure of the network
(:class:`wfm.models.Architecture`), never from a model name.

Interface: ``fields``, ``magnetizations``, ``weights()``, ``errors()``,
``sweep(*, shards, damping, gamma, r, **options) -> maxdiff``, ``free_entropy()``
(Bethe, per weight), ``snapshot()`` / ``restore(snapshot)`` (the messages, for trial
moves and the local-entropy derivative check) and ``state_dict()`` /
``load_state_dict(d)`` for checkpoints: a state rebuilt with ``new(...)`` on the same
data and loaded from ``state_dict()`` continues bit-identically (its random generator
included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from wfm.backends import kernels
from wfm.models import Architecture

__all__ = [
    "PARALLEL_MIN_EDGES",
    "BPState",
    "MachineBPState",
    "PerceptronBPState",
    "new_bp_state",
]

PARALLEL_MIN_EDGES = 200_000
"""Below this many weight-factor edges a machine sweep runs its shards on one thread
(same result either way; threads only pay off on large instances)."""


@dataclass(kw_only=True)
class BPState:
    """Messages of BP on one instance: the interface shared by every factor graph.

    Attributes
    ----------
    u, t : ndarray
        Factor -> weight fields and their tanh.
    U : ndarray
        Pattern part of the total fields, ``sum_mu u`` (shape of the weights).
    ext : ndarray
        External fields (shape of the weights); set by the caller, e.g. ``lambda W~``.
    f : ndarray
        Focusing fields (shape of the weights).
    rng : numpy.random.Generator
        Orders the factors of each sweep.
    sweeps : int
        Sweeps done so far.
    """

    #: names of the message arrays (everything a sweep updates)
    MESSAGES: ClassVar[tuple[str, ...]] = ("u", "t", "U", "f")

    u: np.ndarray
    t: np.ndarray
    U: np.ndarray
    ext: np.ndarray
    f: np.ndarray
    rng: np.random.Generator
    sweeps: int = 0
    device: str = "cpu"

    # ------------------------------------------------------------ derived views
    @property
    def fields(self) -> np.ndarray:
        """Total fields ``H`` (patterns + external + focusing)."""
        return self.U + self.ext + self.f

    @property
    def magnetizations(self) -> np.ndarray:
        """``tanh H``, the BP marginals' means."""
        return np.tanh(self.fields)

    @property
    def n_weights(self) -> int:
        return int(self.U.size)

    @property
    def n_factors(self) -> int:
        """Number of patterns (factors a sweep visits)."""
        return int(self.u.shape[0])

    def weights(self) -> np.ndarray:
        """Binary weights ``sign(H)`` (ties to +1), int8, shape of the fields."""
        return np.where(self.fields >= 0.0, 1, -1).astype(np.int8)

    # ------------------------------------------------------- factor-graph specific
    def errors(self) -> int:
        """Training errors of :meth:`weights`."""
        return self.errors_of(self.weights())

    def errors_of(self, weights) -> int:
        """Training errors of any ±1 ``weights`` of this network (kernel count)."""
        raise NotImplementedError

    def sweep(self, *, shards, damping=0.0, gamma=0.0, r=0.0, **options) -> float:
        """One BP sweep in place; returns the largest message change."""
        raise NotImplementedError

    def free_entropy(self) -> float:
        """Bethe free entropy per weight at the current messages."""
        raise NotImplementedError

    # ------------------------------------------------------- snapshots, checkpoints
    def snapshot(self) -> tuple:
        """Copies of the message arrays (:attr:`MESSAGES`); not ``ext`` or the rng."""
        return tuple(getattr(self, name).copy() for name in self.MESSAGES)

    def restore(self, snapshot) -> None:
        """Copy the messages of :meth:`snapshot` back, in place."""
        for name, saved in zip(self.MESSAGES, snapshot, strict=True):
            getattr(self, name)[...] = saved

    def state_dict(self) -> dict:
        """Everything a sweep depends on besides the data, as copies.

        The message arrays, ``ext``, ``sweeps`` and ``rng_state`` (the generator's
        ``bit_generator.state``, a dict). :meth:`load_state_dict` on a state built
        with ``new(...)`` from the same data continues bit-identically.
        """
        out = {name: getattr(self, name).copy() for name in self.MESSAGES}
        out["ext"] = self.ext.copy()
        out["sweeps"] = int(self.sweeps)
        out["rng_state"] = self.rng.bit_generator.state
        return out

    def load_state_dict(self, d: dict) -> None:
        """Load :meth:`state_dict` output in place; ValueError on a shape mismatch."""
        missing = [
            k for k in (*self.MESSAGES, "ext", "sweeps", "rng_state") if k not in d
        ]
        if missing:
            raise ValueError(f"state dict lacks {', '.join(missing)}")
        for name in (*self.MESSAGES, "ext"):
            target = getattr(self, name)
            value = np.asarray(d[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"state dict {name} must have shape {target.shape}, "
                    f"got {value.shape}"
                )
            target[...] = value
        self.sweeps = int(d["sweeps"])
        self.rng.bit_generator.state = d["rng_state"]


def _external(ext, shape):
    if ext is None:
        return np.zeros(shape)
    ext = np.asarray(ext, dtype=np.float64)
    if ext.size != int(np.prod(shape)):
        raise ValueError(f"ext must have {int(np.prod(shape))} entries, got {ext.size}")
    return ext.reshape(shape).copy()


@dataclass(kw_only=True)
class PerceptronBPState(BPState):
    """BP on one binary-perceptron instance (:mod:`wfm.kernels.bp`).

    ``s`` are the signed patterns ``sigma^mu xi^mu`` (int8 for ±1 patterns, float64
    otherwise), ``u``/``t`` ``(P, N)``, ``U``/``ext``/``f`` ``(N,)``; ``kappa`` the
    margin. ``fast``: sweeps on the fast path of :func:`wfm.kernels.bp.bp_sweep`
    (vectorised approximations), with ``u``/``t`` in float64 or float32 (the
    ``precision`` given to :meth:`new`).
    """

    s: np.ndarray
    kappa: float = 0.0
    fast: bool = False

    @classmethod
    def new(
        cls, patterns, labels, *, rng, kappa=0.0, randfact=0.01, ext=None,
        init_rng=None, fast=False, precision="float64",
    ):  # fmt: skip
        """Fresh messages: small random fields ``atanh(randfact * U(-1, 1))``.

        ``precision`` (``"float64"`` or, with ``fast``, ``"float32"``) is the dtype of
        ``u`` and ``t``; the initial messages are drawn in float64 and rounded.
        """
        if precision not in ("float64", "float32"):
            raise ValueError(f"precision must be float64 or float32, got {precision!r}")
        if precision == "float32" and not fast:
            raise ValueError("float32 messages need the fast BP path (fast=True)")
        patterns = np.asarray(patterns)
        labels = np.asarray(labels)
        if patterns.dtype == np.int8:
            s = (patterns * labels[:, None]).astype(np.int8)
        else:
            s = patterns.astype(np.float64) * labels[:, None].astype(np.float64)
        p, n = s.shape
        init = rng if init_rng is None else init_rng
        u = np.arctanh(randfact * (2.0 * init.random((p, n)) - 1.0)).astype(precision)
        return cls(
            s=s, u=u, t=np.tanh(u), U=u.sum(axis=0, dtype=np.float64),
            ext=_external(ext, (n,)), f=np.zeros(n), rng=rng, kappa=float(kappa),
            fast=bool(fast),
        )  # fmt: skip

    def errors_of(self, weights) -> int:
        bpk = kernels("bp", self.device)

        return bpk.count_errors(self.s, np.asarray(weights), self.kappa)

    def sweep(self, *, shards, damping=0.0, gamma=0.0, r=0.0, **options) -> float:
        """One sweep of :func:`wfm.kernels.bp.bp_sweep` (no options; the fast path
        when :attr:`fast`)."""
        bpk = kernels("bp", self.device)

        if options:
            raise TypeError(f"perceptron BP sweep takes no option {sorted(options)}")
        perm = self.rng.permutation(self.s.shape[0])
        self.sweeps += 1
        return bpk.bp_sweep(
            self.s, self.u, self.t, self.U, self.ext, self.f, perm, shards=shards,
            kappa=self.kappa, damping=damping, gamma=gamma, r=r, fast=self.fast,
        )  # fmt: skip

    def free_entropy(self) -> float:
        """Bethe free entropy per weight (:func:`wfm.kernels.bp.bethe_free_entropy`)."""
        bpk = kernels("bp", self.device)

        return bpk.bethe_free_entropy(
            self.s, self.u, self.U, self.ext, self.f, kappa=self.kappa
        )


@dataclass(kw_only=True)
class MachineBPState(BPState):
    """BP on one committee/parity-machine instance (:mod:`wfm.kernels.bp_committee`).

    ``x``/``labels`` the data, ``stride`` the input offset between units (``n`` tree,
    ``0`` fully connected), ``parity`` the read-out, ``u``/``t`` ``(P, K, n)`` input
    factor -> weight fields, ``vup``/``vdn`` ``(P, K)`` hidden-unit messages,
    ``U``/``ext``/``f`` ``(K, n)``.
    """

    MESSAGES: ClassVar[tuple[str, ...]] = ("u", "t", "vup", "vdn", "U", "f")

    x: np.ndarray
    labels: np.ndarray
    stride: int
    parity: bool
    vup: np.ndarray
    vdn: np.ndarray

    @classmethod
    def new(
        cls, patterns, labels, *, arch: Architecture, rng, randfact=0.01, ext=None,
        init_rng=None,
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
        arch : wfm.models.Architecture
            A machine (``arch.hidden``): ``arch.k`` units, ``arch.fully_connected``,
            ``arch.parity``.
        rng : numpy.random.Generator
        randfact : float
            Scale of the random initial messages (breaks the hidden-unit symmetry of
            the fully connected machine).
        ext : array, optional
            External fields, ``(K, n)`` or flat.
        hidden_field : float
            Scale of the initial output -> hidden messages (see above).
        """
        if not arch.hidden:
            raise ValueError(
                "MachineBPState needs a machine architecture (arch.hidden)"
            )
        x = np.asarray(patterns)
        x = x if x.dtype == np.int8 else x.astype(np.float64)
        p, n_in = x.shape
        k = int(arch.k)
        if not arch.fully_connected and n_in % k:
            raise ValueError(
                f"N must be a multiple of k={k} for a tree machine, got {n_in}"
            )
        n = arch.fan_in(n_in)
        init = rng if init_rng is None else init_rng
        u = np.arctanh(randfact * (2.0 * init.random((p, k, n)) - 1.0))
        vdn = np.zeros((p, k))
        if hidden_field > 0.0:
            lab = np.asarray(labels, dtype=np.float64)
            tau = init.choice((-1.0, 1.0), size=(p, k))
            if arch.parity:
                tau[:, -1] = lab * np.prod(tau[:, :-1], axis=1)
            else:  # K odd: flipping every unit flips the majority
                tau *= np.where(np.sign(tau.sum(axis=1)) == lab, 1.0, -1.0)[:, None]
            vdn = hidden_field * tau
        return cls(
            x=np.ascontiguousarray(x),
            labels=np.asarray(labels, dtype=np.float64),
            stride=0 if arch.fully_connected else n,
            parity=bool(arch.parity),
            u=u,
            t=np.tanh(u),
            vup=np.zeros((p, k)),
            vdn=vdn,
            U=u.sum(axis=0),
            ext=_external(ext, (k, n)),
            f=np.zeros((k, n)),
            rng=rng,
        )

    def errors_of(self, weights) -> int:
        bpc = kernels("bp_machine", self.device)

        w = np.asarray(weights).reshape(self.U.shape)
        return bpc.count_machine_errors(
            self.x, self.labels, w, self.stride, parity=self.parity
        )

    def sweep(
        self, *, shards, damping=0.0, gamma=0.0, r=0.0, interleave=False, **options
    ) -> float:
        """One sweep of :func:`wfm.kernels.bp_committee.bp_machine_sweep`.

        ``interleave``: focusing factors visited among the patterns (the reference
        code's schedule).
        """
        bpc = kernels("bp_machine", self.device)

        if options:
            raise TypeError(f"machine BP sweep takes no option {sorted(options)}")
        p = self.u.shape[0]
        perm = self.rng.permutation(p + self.U.size if interleave else p)
        self.sweeps += 1
        return bpc.bp_machine_sweep(
            self.x, self.labels, self.stride, self.u, self.t, self.vup, self.vdn,
            self.U, self.ext, self.f, perm, parity=self.parity, shards=shards,
            damping=damping, gamma=gamma, r=r, interleave=interleave,
            parallel=self.u.size >= PARALLEL_MIN_EDGES,
        )  # fmt: skip

    def free_entropy(self) -> float:
        """Bethe free entropy per weight
        (:func:`wfm.kernels.bp_committee.machine_bethe_free_entropy`; plain BP, the
        focusing fields are not part of it)."""
        bpc = kernels("bp_machine", self.device)

        return bpc.machine_bethe_free_entropy(
            self.x, self.labels, self.stride, self.u, self.vup, self.vdn, self.U,
            self.ext, parity=self.parity,
        )  # fmt: skip


def new_bp_state(
    patterns, labels, *, arch: Architecture, rng, kappa=0.0, randfact=0.01,
    hidden_field=0.0, init_rng=None, device="cpu", fast=False, precision="float64",
):  # fmt: skip
    """Fresh BP state for the network ``arch``: the class is chosen by ``arch.hidden``.

    ``kappa`` is the perceptron's margin (machines need ``kappa = 0``), ``hidden_field``
    the machines' initial hidden messages (see :meth:`MachineBPState.new`). The
    initial messages are drawn from ``init_rng`` (default ``rng``), the factor order
    of every sweep from ``rng``; the kernels are those of ``device``
    (:func:`wfm.backends.kernels`). ``fast``/``precision``: the perceptron's fast BP
    path (:class:`PerceptronBPState`); machines have none yet.
    """
    if not arch.binary:
        raise ValueError("BP needs binary weights (arch.binary)")
    if arch.hidden and (fast or precision != "float64"):
        raise ValueError(
            "the fast BP path (fast, precision) exists for the perceptron only"
        )
    state = _new_state(patterns, labels, arch, rng, kappa, randfact, hidden_field,
                       init_rng, fast, precision)  # fmt: skip
    state.device = device  # kernels come from wfm.backends for this device
    if device != "cpu" and not arch.hidden:
        # messages and signed patterns live on the device (O(N P)); U, ext, f on
        # the host (O(N), copied each sweep)
        bpk = kernels("bp", device)
        state.s, state.u, state.t = bpk.to_device_messages(state.s, state.u, state.t)
    return state


def _new_state(
    patterns, labels, arch, rng, kappa, randfact, hidden_field, init_rng, fast,
    precision,
):  # fmt: skip
    if arch.hidden:
        if kappa != 0.0:
            raise ValueError(
                f"kappa must be 0 for a committee/parity machine, got {kappa}"
            )
        return MachineBPState.new(
            patterns, labels, arch=arch, rng=rng, randfact=randfact,
            hidden_field=hidden_field, init_rng=init_rng,
        )  # fmt: skip
    if arch.k != 1:
        raise ValueError(f"arch.k must be 1 for a perceptron, got {arch.k}")
    return PerceptronBPState.new(
        patterns, labels, rng=rng, kappa=kappa, randfact=randfact, init_rng=init_rng,
        fast=fast, precision=precision,
    )  # fmt: skip
