"""Pattern ensembles: random ±1 (storage problem), Gaussian, teacher–student.

All randomness comes from a :class:`numpy.random.Generator`. A run derives its
generators from one seed (style.md #4)::

    data_rng, learner_rng = run_generators(seed)   # SeedSequence(seed).spawn(2)

so the data of a run can be regenerated from the seed stored in the run file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Dataset",
    "gaussian_patterns",
    "generate",
    "random_labels",
    "random_patterns",
    "run_generators",
    "signed_patterns",
    "teacher_labels",
]

#: index of each stream in ``SeedSequence(seed).spawn(...)``; recorded in run files.
STREAMS = ("data", "learner")


@dataclass
class Dataset:
    """Patterns, labels and (teacher–student only) the teacher.

    Attributes
    ----------
    patterns : ndarray
        ``(P, N)`` int8 ±1, or float32 for Gaussian patterns.
    labels : ndarray
        ``(P,)`` int8 ±1.
    teacher : ndarray or None
        ``(N,)`` int8 ±1 teacher weights for ``kind="teacher"``.
    """

    patterns: np.ndarray
    labels: np.ndarray
    teacher: np.ndarray | None = None


def run_generators(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The data and learner generators of a run: ``SeedSequence(seed).spawn(2)``."""
    data_seq, learner_seq = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return np.random.default_rng(data_seq), np.random.default_rng(learner_seq)


def random_patterns(rng: np.random.Generator, p: int, n: int) -> np.ndarray:
    """``(p, n)`` i.i.d. uniform ±1 patterns, int8."""
    return (2 * rng.integers(0, 2, size=(p, n), dtype=np.int8) - 1).astype(np.int8)


def gaussian_patterns(rng: np.random.Generator, p: int, n: int) -> np.ndarray:
    """``(p, n)`` i.i.d. standard Gaussian patterns, float32."""
    return rng.standard_normal(size=(p, n), dtype=np.float32)


def random_labels(rng: np.random.Generator, p: int) -> np.ndarray:
    """``(p,)`` i.i.d. uniform ±1 labels, int8."""
    return (2 * rng.integers(0, 2, size=p, dtype=np.int8) - 1).astype(np.int8)


def teacher_labels(teacher: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Labels ``sign(teacher . xi)`` (a zero field, impossible for odd N, gives +1)."""
    from wfm.models.perceptron import output

    return output(teacher, patterns)


def signed_patterns(patterns: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``sigma^mu xi^mu``: int8 for ±1 patterns, float64 otherwise.

    The BP kernels see the data only through these (science.md §4).
    """
    patterns = np.asarray(patterns)
    labels = np.asarray(labels)
    if patterns.dtype == np.int8:
        return (patterns * labels[:, None]).astype(np.int8)
    return patterns.astype(np.float64) * labels[:, None].astype(np.float64)


def machine_output(model: str, k: int, teacher, patterns) -> np.ndarray:
    """Output ±1 (int8) of a committee/parity machine; a 0 output (hidden ties, even
    fan-in only) gives +1 as for the perceptron."""
    from wfm.models import committee, parity

    if model == "parity":
        out = parity.output(teacher, patterns, k)
    else:
        out = committee.output(teacher, patterns, k, model == "committee-full")
    return np.where(out >= 0, 1, -1).astype(np.int8)


def generate(
    kind: str,
    alpha: float,
    n: int,
    rng: np.random.Generator,
    model: str = "perceptron-binary",
    k: int = 1,
) -> Dataset:
    """Draw a data set of ``P = round(alpha N_w)`` patterns of ``n`` inputs.

    ``N_w`` is the number of weights: ``n``, or ``k n`` for ``"committee-full"``
    (alpha per weight, as in BinaryCommitteeMachineFBP.jl). For ``kind="teacher"``
    the teacher has the architecture of ``model`` (``N_w`` i.i.d. ±1 weights; ``(k,
    n)`` for committee-full).

    Parameters
    ----------
    kind : {"random", "gaussian", "teacher"}
        Random ±1 patterns with random labels (storage problem); Gaussian patterns
        with random labels; random ±1 patterns labelled by a random binary teacher.
    alpha : float
        Load ``P/N``.
    n : int
        Number of inputs.
    rng : numpy.random.Generator
        The run's data generator (:func:`run_generators`).

    Returns
    -------
    Dataset
    """
    machine = model in ("committee-tree", "committee-full", "parity")
    n_weights = k * n if model == "committee-full" else n
    p = int(round(alpha * n_weights))
    if kind == "teacher" and machine:
        teacher = random_labels(rng, n_weights)
        if model == "committee-full":
            teacher = teacher.reshape(k, n)
        patterns = random_patterns(rng, p, n)
        return Dataset(patterns, machine_output(model, k, teacher, patterns), teacher)
    if kind == "random":
        patterns = random_patterns(rng, p, n)
        return Dataset(patterns, random_labels(rng, p))
    if kind == "gaussian":
        patterns = gaussian_patterns(rng, p, n)
        return Dataset(patterns, random_labels(rng, p))
    if kind == "teacher":
        teacher = random_labels(rng, n)  # i.i.d. ±1 weights
        patterns = random_patterns(rng, p, n)
        return Dataset(patterns, teacher_labels(teacher, patterns), teacher)
    raise ValueError(
        f"data.kind must be one of random, gaussian, teacher; got {kind!r}"
    )


def generate_for(spec, rng: np.random.Generator | None = None) -> Dataset:
    """The data set of a :class:`~wfm.config.RunSpec` (from its seed if no ``rng``)."""
    if rng is None:
        rng = run_generators(spec.seed)[0]
    return generate(
        spec.data.kind,
        spec.data.alpha,
        spec.model.n,
        rng,
        spec.model.name,
        spec.model.k,
    )
