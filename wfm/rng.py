"""Named random streams of a run: children of one ``SeedSequence`` (style.md #4).

Every source of randomness of a run draws from its own stream, so adding a consumer
never shifts another's numbers, and the whole run is reproducible from its seed::

    data_rng = stream(seed, "data")         # SeedSequence(seed, spawn_key=(0,))

A stream's ``spawn_key`` is fixed forever by its position in :data:`STREAMS` (the
first two equal ``SeedSequence(seed).spawn(2)``, the streams of format-1 files). The
mapping is written to every run file as the ``streams`` attribute.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STREAMS", "stream", "stream_keys"]

#: stream name -> index of its spawn key; append only, never reorder
STREAMS = (
    "data",  # patterns, labels, teacher
    "learner",  # the learner's own draws (factor order, Metropolis moves, minibatches)
    "init",  # initial messages / weights
    "local_entropy",  # the local-entropy measure (BP initial messages, factor order)
    "local_energy",  # weight perturbations of the local-energy measure
    "hessian",  # probes of the Hessian estimators
    "split",  # train/test split of real data
    "gradient_noise",  # esgd's Langevin steps, rpgd's weight perturbations
)


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` of root seed ``seed``."""
    try:
        index = STREAMS.index(name)
    except ValueError:
        raise ValueError(
            f"unknown random stream {name!r}; streams: {', '.join(STREAMS)}"
        ) from None
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(index,)))


def stream_keys() -> dict[str, list[int]]:
    """Stream name -> spawn key, as recorded in run files."""
    return {name: [i] for i, name in enumerate(STREAMS)}
