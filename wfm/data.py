"""Pattern ensembles: random ±1 (storage problem), Gaussian, teacher–student.

All randomness comes from a :class:`numpy.random.Generator`: a run's data come from
its named ``data`` stream (:func:`wfm.rng.stream`, ``SeedSequence(seed,
spawn_key=(0,))``, the same generator as format-1 files' ``spawn(2)[0]``), so the data
of a run can be regenerated from the seed stored in the run file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wfm.rng import stream

__all__ = [
    "Dataset",
    "gaussian_patterns",
    "generate",
    "random_labels",
    "random_patterns",
    "signed_patterns",
]


@dataclass
class Dataset:
    """Patterns, labels and (teacher–student only) the teacher.

    Attributes
    ----------
    patterns : ndarray or wfm.patterns.HashedPatterns
        ``(P, N)`` int8 ±1, or float32 for Gaussian patterns; for ``kind="hashed"``
        a storage that generates its entries on the fly (O(P) memory).
    labels : ndarray
        ``(P,)`` int8 ±1.
    teacher : ndarray or None
        ``(N,)`` int8 ±1 teacher weights for ``kind="teacher"``.
    """

    patterns: np.ndarray
    labels: np.ndarray
    teacher: np.ndarray | None = None


def random_patterns(rng: np.random.Generator, p: int, n: int) -> np.ndarray:
    """``(p, n)`` i.i.d. uniform ±1 patterns, int8."""
    return (2 * rng.integers(0, 2, size=(p, n), dtype=np.int8) - 1).astype(np.int8)


def gaussian_patterns(rng: np.random.Generator, p: int, n: int) -> np.ndarray:
    """``(p, n)`` i.i.d. standard Gaussian patterns, float32."""
    return rng.standard_normal(size=(p, n), dtype=np.float32)


def random_labels(rng: np.random.Generator, p: int) -> np.ndarray:
    """``(p,)`` i.i.d. uniform ±1 labels, int8."""
    return (2 * rng.integers(0, 2, size=p, dtype=np.int8) - 1).astype(np.int8)


def signed_patterns(patterns: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``sigma^mu xi^mu``: int8 for ±1 patterns, float64 otherwise.

    The BP kernels see the data only through these (science.md §4).
    """
    patterns = np.asarray(patterns)
    labels = np.asarray(labels)
    if patterns.dtype == np.int8:
        return (patterns * labels[:, None]).astype(np.int8)
    return patterns.astype(np.float64) * labels[:, None].astype(np.float64)


def generate(
    kind: str,
    alpha: float,
    n: int,
    rng: np.random.Generator,
    model: str | None = None,
    k: int = 1,
) -> Dataset:
    """Draw a data set of ``P = round(alpha N_w)`` patterns of ``n`` inputs.

    ``N_w`` is the number of weights of the model (``n``, or ``k n`` fully connected:
    alpha per weight, as in BinaryCommitteeMachineFBP.jl). For ``kind="teacher"`` the
    teacher has the model's architecture (i.i.d. ±1 weights) and labels the patterns
    with the model's reference output (:mod:`wfm.models`).

    Parameters
    ----------
    kind : {"random", "gaussian", "teacher"}
        Random ±1 patterns with random labels (storage problem); Gaussian patterns
        with random labels; random ±1 patterns labelled by a random binary teacher.
    alpha : float
        Load per weight.
    n : int
        Number of inputs.
    rng : numpy.random.Generator
        The run's data stream (:func:`wfm.rng.stream` ``"data"``).
    model : str, optional
        A registered model name (default :data:`wfm.models.DEFAULT_MODEL`).
    k : int
        Hidden units.

    Returns
    -------
    Dataset
    """
    from wfm.models import DEFAULT_MODEL, get_model

    info = get_model(model or DEFAULT_MODEL)
    arch = info.architecture(k)
    n_weights = arch.n_weights(n)
    p = int(round(alpha * n_weights))
    if kind == "random":
        patterns = random_patterns(rng, p, n)
        return Dataset(patterns, random_labels(rng, p))
    if kind == "gaussian":
        patterns = gaussian_patterns(rng, p, n)
        return Dataset(patterns, random_labels(rng, p))
    if kind == "hashed":
        # the instance is a function of one 64-bit key, the data stream's first draw
        from wfm.patterns import random_instance

        key = int(rng.integers(0, 2**63, dtype=np.int64))
        patterns, labels = random_instance(key, p, n, "hashed")
        return Dataset(patterns, labels)
    if kind == "teacher":
        teacher = random_labels(rng, n_weights).reshape(arch.weight_shape(n))
        patterns = random_patterns(rng, p, n)
        return Dataset(patterns, info.output(teacher, patterns, arch), teacher)
    raise ValueError(
        f"data.kind must be one of random, gaussian, teacher, hashed; got {kind!r}"
    )


def generate_for(spec, rng: np.random.Generator | None = None) -> Dataset:
    """The data set of a :class:`~wfm.config.RunSpec` (its ``data`` stream if no
    ``rng``)."""
    if rng is None:
        rng = stream(spec.seed, "data")
    return generate(
        spec.data.kind,
        spec.data.alpha,
        spec.model.n,
        rng,
        spec.model.name,
        spec.model.k,
    )
