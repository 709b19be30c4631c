"""What a learner receives besides its parameters: the problem and the run context.

:class:`RunContext` is the learner's only window on the outside world (style.md #15):
random streams, the trace, checkpoints and the progress flag. A learner calls
``ctx.checkpoint(make_state)`` at *safe points* — places where its whole state is
consistent and ``make_state()`` returns everything needed to continue bit for bit
(arrays, counters, ``Generator.bit_generator.state``). The context decides when to
save (every ``checkpoint_seconds``, and at once after SIGINT/SIGTERM, after which it
raises :class:`wfm.errors.RunInterrupted`); ``make_state`` is called only then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from wfm.errors import RunInterrupted
from wfm.models import Architecture
from wfm.rng import stream

__all__ = ["Problem", "RunContext"]


@dataclass(frozen=True)
class Problem:
    """A training set and the network that must fit it.

    Attributes
    ----------
    patterns : ndarray
        ``(P, N)`` patterns (int8 ±1 or float).
    labels : ndarray
        ``(P,)`` int8 ±1 labels.
    arch : Architecture
    kappa : float
        Margin of the stabilities (0 for machines).
    test_patterns, test_labels : ndarray or None
        A held-out test set (real data): learners that can trace its error do.
    external_field : ndarray, optional
        Fields ``h_i`` added to every weight's total field (shape of the weights),
        e.g. ``lambda W~`` to stay near a reference ``W~``: the local-entropy
        coupling of [P1] eq. 4, used for constrained (incremental) learning. Only
        learners that declare ``external_field`` in the registry read it (fbp).
    """

    patterns: np.ndarray
    labels: np.ndarray
    arch: Architecture = field(default_factory=Architecture)
    kappa: float = 0.0
    test_patterns: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    external_field: np.ndarray | None = None

    @property
    def n_inputs(self) -> int:
        return int(self.patterns.shape[1])

    @property
    def n_weights(self) -> int:
        return self.arch.n_weights(self.n_inputs)


@dataclass
class RunContext:
    """Streams, trace, checkpoints and progress of one run.

    Attributes
    ----------
    seed : int
        Root seed; :meth:`rng` gives its named streams (:mod:`wfm.rng`).
    trace_sink : callable or None
        Receives every trace record (a dict of scalars).
    checkpoint_sink : callable or None
        Receives the learner state to save.
    checkpoint_seconds : float
        Save at a safe point once this much time passed since the last save.
    resumed : dict or None
        The state saved by a previous, interrupted run of the same spec.
    progress : bool
        Show progress bars.
    device : str
    """

    seed: int = 0
    trace_sink: Callable | None = None
    checkpoint_sink: Callable | None = None
    checkpoint_seconds: float = 5.0
    resumed: dict | None = None
    progress: bool = False
    device: str = "cpu"
    stop_requested: str | None = None
    _last_save: float = field(default_factory=time.monotonic)
    _rngs: dict = field(default_factory=dict)

    def rng(self, name: str) -> np.random.Generator:
        """The generator of stream ``name`` (one object per name and run)."""
        if name not in self._rngs:
            self._rngs[name] = stream(self.seed, name)
        return self._rngs[name]

    def trace(self, record: dict) -> None:
        """Append one record to the run's trace."""
        if self.trace_sink is not None:
            self.trace_sink(record)

    def request_stop(self, reason: str) -> None:
        """Ask the learner to save and stop at its next safe point (signal handler)."""
        self.stop_requested = reason

    def checkpoint(self, make_state: Callable[[], dict]) -> None:
        """A safe point: save ``make_state()`` if due; stop here if asked to."""
        due = time.monotonic() - self._last_save >= self.checkpoint_seconds
        if self.checkpoint_sink is not None and (due or self.stop_requested):
            self.checkpoint_sink(make_state())
            self._last_save = time.monotonic()
        if self.stop_requested:
            raise RunInterrupted(self.stop_requested)
