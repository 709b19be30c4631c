"""Mutable BP state shared by the BP-based learners and measures (style.md #5)."""

from dataclasses import dataclass

import numpy as np

from wfm.data import signed_patterns
from wfm.kernels import bp as bpk


@dataclass
class BPState:
    """Messages of BP on one binary-perceptron instance.

    ``s`` are the signed patterns, ``u``/``t`` the factor->variable fields and their
    tanh, ``U`` their sum per variable, ``ext`` the external fields, ``f`` the focusing
    fields. The random generator orders the factors of each sweep.
    """

    s: np.ndarray
    u: np.ndarray
    t: np.ndarray
    U: np.ndarray
    ext: np.ndarray
    f: np.ndarray
    rng: np.random.Generator
    kappa: float = 0.0
    sweeps: int = 0

    @classmethod
    def new(cls, patterns, labels, *, rng, kappa=0.0, randfact=0.01, ext=None):
        """Fresh messages: small random fields ``atanh(randfact * U(-1, 1))``."""
        s = signed_patterns(patterns, labels)
        p, n = s.shape
        u = np.arctanh(randfact * (2.0 * rng.random((p, n)) - 1.0))
        ext = np.zeros(n) if ext is None else np.asarray(ext, dtype=np.float64).copy()
        return cls(s, u, np.tanh(u), u.sum(axis=0), ext, np.zeros(n), rng, kappa)

    @property
    def fields(self):
        """Total fields ``H_i`` (patterns + external + focusing)."""
        return self.U + self.ext + self.f

    @property
    def magnetizations(self):
        return np.tanh(self.fields)

    def weights(self):
        """The binary weights ``sign(H)`` (ties to +1)."""
        return np.where(self.fields >= 0.0, 1, -1).astype(np.int8)

    def errors(self):
        return bpk.count_errors(self.s, self.weights(), self.kappa)

    def sweep(self, *, shards, damping=0.0, gamma=0.0, r=0.0):
        perm = self.rng.permutation(self.s.shape[0])
        self.sweeps += 1
        return bpk.bp_sweep(
            self.s,
            self.u,
            self.t,
            self.U,
            self.ext,
            self.f,
            perm,
            shards=shards,
            kappa=self.kappa,
            damping=damping,
            gamma=gamma,
            r=r,
        )

    def free_entropy(self):
        """Bethe free entropy per weight at the current messages."""
        return bpk.bethe_free_entropy(
            self.s, self.u, self.U, self.ext, self.f, kappa=self.kappa
        )
