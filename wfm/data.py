"""Pattern ensembles: random ±1 (storage problem), Gaussian, teacher–student; and
real data (scikit-learn's bundled digits, MNIST-style IDX files) as two-class tasks.

All randomness comes from a :class:`numpy.random.Generator`: a run's data come from
its named ``data`` stream (:func:`wfm.rng.stream`, ``SeedSequence(seed,
spawn_key=(0,))``, the same generator as format-1 files' ``spawn(2)[0]``), so the data
of a run can be regenerated from the seed stored in the run file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wfm.errors import ConfigError
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
    test_patterns, test_labels : ndarray or None
        The held-out test set of real data.
    attrs : dict
        Provenance of real data (source, task, split), stored with ``/data``.
    """

    patterns: np.ndarray
    labels: np.ndarray
    teacher: np.ndarray | None = None
    test_patterns: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)


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
    ``rng``; real data: :func:`real_dataset` with the ``split`` stream)."""
    if is_real(spec.data.kind):
        return real_dataset(spec.data, spec.model.n, stream(spec.seed, "split"))
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


# --------------------------------------------------------------------- real data
#: data kinds read from files rather than drawn: the bundled digits of scikit-learn,
#: and ``idx:PATH`` for MNIST-style IDX files the user has
REAL_KINDS = ("digits", "idx:PATH")

#: IDX type code -> numpy dtype (big-endian), per the IDX format of LeCun et al.'s
#: MNIST page: magic = 0x00 0x00 <type> <number of dimensions>
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

DIGITS_EXTRA = "digits"  # the optional extra that installs scikit-learn


def is_real(kind: str) -> bool:
    """Whether data ``kind`` is read from real data (``digits``, ``idx:PATH``)."""
    return kind == "digits" or kind.startswith("idx:")


def _open_maybe_gz(path):
    """The file, through gzip if it starts with gzip's magic bytes."""
    import gzip

    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path, *, header_only=False):
    """Read an IDX file (MNIST layout; gzip-compressed files are read through gzip).

    Parameters
    ----------
    path : path-like
    header_only : bool
        Return only the shape (no data read).

    Returns
    -------
    ndarray or tuple
        The array with its native dtype (``uint8`` images and labels for MNIST), or
        its shape.

    Raises
    ------
    ConfigError
        Missing or unreadable file, bad magic number, unknown type, truncated data:
        one line naming the file.
    """
    import struct

    where = f"data.kind idx: {str(path)!r}"
    try:
        with _open_maybe_gz(path) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise ConfigError(f"{where} is not an IDX file (bad magic number)")
            dtype = _IDX_TYPES.get(head[2])
            ndim = head[3]
            if dtype is None or ndim < 1:
                raise ConfigError(
                    f"{where} is not an IDX file (type code {head[2]:#04x}, "
                    f"{ndim} dimensions)"
                )
            raw = f.read(4 * ndim)
            if len(raw) < 4 * ndim:
                raise ConfigError(f"{where} is truncated (incomplete header)")
            shape = struct.unpack(f">{ndim}I", raw)
            if header_only:
                return tuple(shape)
            count = int(np.prod(shape, dtype=np.int64))
            data = f.read(count * dtype.itemsize + 1)
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"cannot read {where}: {reason}") from None
    if len(data) != count * dtype.itemsize:
        raise ConfigError(
            f"{where} has {len(data)} data bytes, its header {shape} needs "
            f"{count * dtype.itemsize}"
        )
    return (
        np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    )


def idx_files(path) -> dict:
    """The IDX files of ``data.kind = "idx:PATH"``.

    ``PATH`` is a directory holding ``train-images-idx3-ubyte`` and
    ``train-labels-idx1-ubyte`` (MNIST / Fashion-MNIST names, optionally ``.gz``) and,
    if present, the ``t10k-`` pair, used as the test set; or an images file whose
    labels file has the same name with ``images-idx3`` replaced by ``labels-idx1``.

    Returns
    -------
    dict
        ``{"train": (images, labels), "test": (images, labels) or None}`` paths.
    """
    from pathlib import Path

    p = Path(path)

    def find(folder, stem):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
        return None

    if p.is_dir():
        pairs = {}
        for part, prefix in (("train", "train"), ("test", "t10k")):
            images = find(p, f"{prefix}-images-idx3-ubyte")
            labels = find(p, f"{prefix}-labels-idx1-ubyte")
            pairs[part] = (images, labels) if images and labels else None
        if pairs["train"] is None:
            raise ConfigError(
                f"data.kind idx: {str(p)!r} holds no train-images-idx3-ubyte and "
                "train-labels-idx1-ubyte"
            )
        return pairs
    if "images-idx3" not in p.name:
        if not p.exists():
            raise ConfigError(f"cannot read data.kind idx: {str(p)!r}: no such file")
        raise ConfigError(
            f"data.kind idx: {str(p)!r} must be a folder of MNIST-style files or an "
            "*images-idx3* file next to its *labels-idx1* file"
        )
    return {"train": (p, p.with_name(p.name.replace("images-idx3", "labels-idx1"))),
            "test": None}  # fmt: skip


def real_inputs(kind: str) -> int:
    """Number of input features of a real data kind (reads only a header)."""
    if kind == "digits":
        return 64
    images, _ = idx_files(kind[len("idx:") :])["train"]
    shape = read_idx(images, header_only=True)
    return int(np.prod(shape[1:], dtype=np.int64))


def _load_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ConfigError(
            "data.kind digits needs scikit-learn, not installed: pip install "
            f"'wfm[{DIGITS_EXTRA}]'"
        ) from None
    d = load_digits()
    return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=np.int64)


def _load_idx(kind):
    files = idx_files(kind[len("idx:") :])
    out = {}
    for part, pair in files.items():
        if pair is None:
            out[part] = None
            continue
        images, labels = (read_idx(f) for f in pair)
        if labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ConfigError(
                f"data.kind {kind}: {images.shape[0]} images but labels of shape "
                f"{labels.shape}"
            )
        out[part] = (images.reshape(images.shape[0], -1).astype(np.float64),
                     labels.astype(np.int64))  # fmt: skip
    return out


def parse_classes(classes: str):
    """``"even-odd"`` -> None (all digits, +1 even); ``"A-B"`` -> ``(A, B)``."""
    if classes == "even-odd":
        return None
    a, _, b = classes.partition("-")
    return int(a), int(b)


def _two_class(x, digits, classes):
    """Keep the rows of the task; labels +1 (even / first class), -1."""
    pair = parse_classes(classes)
    if pair is None:
        return x, np.where(digits % 2 == 0, 1, -1).astype(np.int8)
    keep = np.isin(digits, pair)
    return x[keep], np.where(digits[keep] == pair[0], 1, -1).astype(np.int8)


def real_dataset(data, n: int, rng: np.random.Generator) -> Dataset:
    """A two-class task of real data, split into training and test sets.

    Parameters
    ----------
    data : wfm.config.DataSpec
        ``kind`` (``"digits"`` or ``"idx:PATH"``), ``classes`` (``"even-odd"``: +1
        for even digits; ``"A-B"``: only digits A (+1) and B (-1)), ``test_fraction``
        (share of the examples held out, unless an IDX folder has a ``t10k`` test
        set), ``max_patterns`` (cap on training patterns, 0 = all) and ``inputs``
        (``"standardize"``: float64 features of zero mean and unit variance over the
        training set; ``"sign"``: int8 ±1, the sign of the standardized feature,
        ``+1`` at 0).
    n : int
        Inputs of the model: the features, zero-padded at the end if ``n`` is
        larger (a tree committee needs ``n`` divisible by ``K``).
    rng : numpy.random.Generator
        The run's ``split`` stream: the split and the subsample.

    Returns
    -------
    Dataset
        Training ``patterns``/``labels``, ``test_patterns``/``test_labels``, and
        ``attrs`` describing the source and the split.
    """
    if data.kind == "digits":
        x, digits = _load_digits()
        parts = {"train": (x, digits), "test": None}
        source = "scikit-learn load_digits (8x8 images, 1797 examples)"
    else:
        parts = _load_idx(data.kind)
        source = f"IDX files {data.kind[len('idx:') :]}"
    x, labels = _two_class(*parts["train"], data.classes)
    features = x.shape[1]
    if n < features:
        raise ConfigError(
            f"model.n must be >= {features} (the inputs of data.kind {data.kind}), "
            f"got {n}"
        )
    if parts["test"] is not None:
        x_test, y_test = _two_class(*parts["test"], data.classes)
        order = rng.permutation(len(labels))
    else:
        order = rng.permutation(len(labels))
        n_test = int(round(data.test_fraction * len(labels)))
        test_rows, order = order[:n_test], order[n_test:]
        x_test, y_test = x[test_rows], labels[test_rows]
    if data.max_patterns:
        order = order[: data.max_patterns]
    x, labels = x[order], labels[order]
    if len(labels) == 0:
        raise ConfigError(f"data.classes {data.classes!r} leaves no training pattern")
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0.0] = 1.0

    def prepare(a):
        z = (a - mean) / std
        if data.inputs == "sign":
            z = np.where(z >= 0.0, 1, -1).astype(np.int8)
        if n > features:
            z = np.concatenate([z, np.zeros((len(z), n - features), z.dtype)], axis=1)
        return np.ascontiguousarray(z)

    attrs = {
        "source": source,
        "classes": data.classes,
        "inputs": data.inputs,
        "features": features,
        "padding": n - features,
        "n_train": len(labels),
        "n_test": len(y_test),
        "test_set": "t10k files" if parts["test"] is not None else "held out",
        "split_stream": "split: SeedSequence(seed, spawn_key=(6,))",
    }
    return Dataset(
        prepare(x), labels, None, prepare(x_test), np.asarray(y_test, np.int8), attrs
    )
