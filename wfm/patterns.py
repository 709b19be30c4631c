"""Pattern storage: one ±1 instance, three memory layouts, identical bit for bit.

In message passing for the perceptron in AMP form (:mod:`wfm.kernels.amp`) the
pattern matrix ``xi`` (P x N, entries ±1) is the only object of size N·P; everything
else is O(N + P). Three storages of the same instance:

``DensePatterns``
    int8 ``(P, N)`` array: 1 byte an entry (what :mod:`wfm.data` produces).
``PackedPatterns``
    bit-packed, 32 entries a ``uint32`` word, rows of ``ceil(N/32)`` words:
    entry ``(mu, i)`` is bit ``i % 32`` of word ``i // 32`` of row ``mu``, bit 1 = +1,
    bit 0 = -1; padding bits of the last word are 0. 1/8 byte an entry.
``HashedPatterns``
    nothing stored: entries are recomputed on every pass from a counter-based
    generator keyed by ``(seed, mu, i)``; O(1) memory for the matrix.

**The generator.** A counter-based generator maps a key and a counter to random bits
with no state to carry, so any entry can be produced in any order by any thread (the
idea of Salmon et al., *Parallel random numbers: as easy as 1, 2, 3*, SC'11, which
introduced Philox). Here the mixing function is the finaliser of SplitMix64 (Steele,
Lea & Flood, *Fast splittable pseudorandom number generators*, OOPSLA 2014; the
variant "Mix13" of D. Stafford, used by Java's SplittableRandom and by Vigna's
reference ``splitmix64.c``)::

    mix64(z): z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
              z *= 0x94D049BB133111EB; z ^= z >> 31

and a SplitMix64 *stream* of seed ``s`` has output ``k`` (k = 0, 1, ...) equal to
``mix64(s + (k + 1) * 0x9E3779B97F4A7C15)`` (mod 2^64), which passes BigCrush. Then

* instance key        ``K = mix64(seed ^ PATTERN_DOMAIN)``;
* key of row mu       ``R_mu`` = output ``mu`` of the stream of seed ``K``;
* 64-bit word k of row mu = output ``k`` of the stream of seed ``R_mu``;
* entry ``(mu, i)``   = bit ``i % 64`` of word ``i // 64`` of row ``mu`` (1 -> +1).

So the entry is a fixed function of ``(seed, mu, i)``; one ``mix64`` yields 64
entries. The ``uint32`` words of :class:`PackedPatterns` are the low and high halves of
these 64-bit words, and :class:`DensePatterns` their bits, so all three storages built
by :func:`random_patterns` agree bit for bit. Labels come from a separate key,
``mix64(seed ^ LABEL_DOMAIN)``, with label ``mu`` = bit ``mu % 64`` of output
``mu // 64`` of its stream.

Kernels receive ``storage.kernel_args()``: a tuple ``(xi,)``, ``(words, n)`` or
``(row_keys, n)`` (``row_keys``: the P row keys ``R_mu``, O(P) memory, computed once).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wfm._numba import njit, pnjit, prange

__all__ = [
    "STORAGE_KINDS",
    "DensePatterns",
    "HashedPatterns",
    "PackedPatterns",
    "as_storage",
    "mix64",
    "pack_bits",
    "random_instance",
    "random_labels",
    "random_patterns",
    "unpack_bits",
]

STORAGE_KINDS = ("int8", "bits", "hashed")

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64 increment, 2^64 / golden ratio
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
PATTERN_DOMAIN = 0x7061747465726E73  # "patterns": separates the pattern and label keys
LABEL_DOMAIN = 0x6C6162656C73AAAA  # "labels"
_MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------- generator
@njit
def mix64(z):
    """SplitMix64 finaliser (Stafford's Mix13) of a ``uint64``; a bijection."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit
def stream_word(seed, k):
    """Output ``k`` (0-based) of the SplitMix64 stream of seed ``seed`` (uint64)."""
    return mix64(seed + (np.uint64(k) + np.uint64(1)) * GOLDEN)


def _key(seed, domain):
    """The 64-bit key of ``seed`` (int in [0, 2^64)) in a domain (patterns/labels)."""
    seed = _seed_int(seed)
    return int(mix64(np.uint64(seed ^ domain)))


def _seed_int(seed):
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1, np.uint64)[0])
    seed = int(seed)
    if not 0 <= seed <= _MASK64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed


@pnjit
def _row_keys(key, p, out):
    for mu in prange(p):
        out[mu] = stream_word(key, mu)


def row_keys(seed, p):
    """``(p,)`` uint64 keys ``R_mu`` of the rows of the instance ``seed``."""
    out = np.empty(p, dtype=np.uint64)
    _row_keys(np.uint64(_key(seed, PATTERN_DOMAIN)), p, out)
    return out


@pnjit
def _hashed_words32(rkeys, nw32, out):
    """``out[mu, k]`` = the k-th 32-bit half-word of row mu (low half first)."""
    p = rkeys.shape[0]
    for mu in prange(p):
        r = rkeys[mu]
        for k in range(nw32):
            w = stream_word(r, k // 2)
            if k % 2 == 1:
                w = w >> np.uint64(32)
            out[mu, k] = np.uint32(w & np.uint64(0xFFFFFFFF))


@pnjit
def _unpack(words, n, out):
    p = words.shape[0]
    for mu in prange(p):
        for i in range(n):
            bit = (np.int64(words[mu, i // 32]) >> (i % 32)) & 1
            out[mu, i] = np.int8(2 * bit - 1)


@pnjit
def _pack(xi, out):
    p, n = xi.shape
    nw = out.shape[1]
    for mu in prange(p):
        for k in range(nw):
            w = np.uint32(0)
            for b in range(min(32, n - 32 * k)):
                if xi[mu, 32 * k + b] > 0:
                    w |= np.uint32(1) << np.uint32(b)
            out[mu, k] = w


def pack_bits(xi):
    """Bit-pack a ``(P, N)`` ±1 array into ``(P, ceil(N/32))`` uint32 words."""
    xi = np.ascontiguousarray(xi)
    p, n = xi.shape
    out = np.empty((p, (n + 31) // 32), dtype=np.uint32)
    _pack(xi, out)
    return out


def unpack_bits(words, n):
    """The ``(P, n)`` int8 ±1 array of bit-packed ``words`` (inverse of pack_bits)."""
    words = np.ascontiguousarray(words, dtype=np.uint32)
    out = np.empty((words.shape[0], n), dtype=np.int8)
    _unpack(words, n, out)
    return out


# ----------------------------------------------------------------- storages
@dataclass(frozen=True)
class DensePatterns:
    """int8 ``(P, N)`` ±1 patterns."""

    xi: np.ndarray
    kind = "int8"

    def __post_init__(self):
        xi = np.ascontiguousarray(self.xi, dtype=np.int8)
        if xi.ndim != 2:
            raise ValueError(f"patterns must be (P, N), got shape {xi.shape}")
        object.__setattr__(self, "xi", xi)

    @property
    def shape(self):
        return self.xi.shape

    @property
    def nbytes(self):
        """Memory held by the pattern matrix."""
        return self.xi.nbytes

    @property
    def pass_bytes(self):
        """Bytes read by one pass over the matrix (one matrix-vector product)."""
        return self.xi.nbytes

    def kernel_args(self):
        return (self.xi,)

    def to_int8(self):
        return self.xi

    def row_block(self, start, stop):
        """int8 rows ``start:stop`` (blockwise reads of any storage)."""
        return self.xi[start:stop]


@dataclass(frozen=True)
class PackedPatterns:
    """Bit-packed ±1 patterns: ``(P, ceil(N/32))`` uint32 words, ``n`` columns."""

    words: np.ndarray
    n: int

    kind = "bits"

    def __post_init__(self):
        words = np.ascontiguousarray(self.words, dtype=np.uint32)
        if words.ndim != 2 or words.shape[1] != (self.n + 31) // 32:
            raise ValueError(
                f"words must be (P, ceil(n/32)) = (P, {(self.n + 31) // 32}), got "
                f"{words.shape}"
            )
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "n", int(self.n))

    @classmethod
    def from_int8(cls, xi):
        xi = np.asarray(xi)
        return cls(pack_bits(xi), xi.shape[1])

    @property
    def shape(self):
        return (self.words.shape[0], self.n)

    @property
    def nbytes(self):
        return self.words.nbytes

    @property
    def pass_bytes(self):
        return self.words.nbytes

    def kernel_args(self):
        return (self.words, self.n)

    def to_int8(self):
        return unpack_bits(self.words, self.n)

    def row_block(self, start, stop):
        """int8 rows ``start:stop``."""
        return unpack_bits(self.words[start:stop], self.n)


@dataclass(frozen=True)
class HashedPatterns:
    """±1 patterns generated on the fly from ``(seed, mu, i)``; nothing N·P stored."""

    seed: int
    p: int
    n: int
    _row_keys: np.ndarray = field(init=False, repr=False, compare=False)

    kind = "hashed"

    def __post_init__(self):
        if self.p < 1 or self.n < 1:
            raise ValueError(f"p and n must be >= 1, got {self.p} and {self.n}")
        object.__setattr__(self, "seed", _seed_int(self.seed))
        object.__setattr__(self, "_row_keys", row_keys(self.seed, int(self.p)))

    @property
    def shape(self):
        return (int(self.p), int(self.n))

    @property
    def nbytes(self):
        """Memory held: the P row keys (8 bytes each)."""
        return self._row_keys.nbytes

    @property
    def pass_bytes(self):
        return self._row_keys.nbytes

    def kernel_args(self):
        return (self._row_keys, int(self.n))

    def to_words(self):
        """The bit-packed ``(P, ceil(N/32))`` uint32 words of this instance."""
        nw32 = (self.n + 31) // 32
        out = np.empty((self.p, nw32), dtype=np.uint32)
        _hashed_words32(self._row_keys, nw32, out)
        if self.n % 32:  # zero the padding bits, as pack_bits does
            out[:, -1] &= np.uint32((1 << (self.n % 32)) - 1)
        return out

    def to_packed(self):
        return PackedPatterns(self.to_words(), self.n)

    def to_int8(self):
        return unpack_bits(self.to_words(), self.n)

    def row_block(self, start, stop):
        """int8 rows ``start:stop``, generated."""
        keys = self._row_keys[start:stop]
        nw32 = (self.n + 31) // 32
        words = np.empty((keys.size, nw32), dtype=np.uint32)
        _hashed_words32(keys, nw32, words)
        return unpack_bits(words, self.n)


# -------------------------------------------------------------- constructors
def random_patterns(seed, p, n, storage="hashed"):
    """The ``(p, n)`` ±1 instance of ``seed`` in the storage ``storage``.

    Parameters
    ----------
    seed : int in [0, 2^64) or numpy.random.SeedSequence
    p, n : int
        Number of patterns and of inputs.
    storage : {"int8", "bits", "hashed"}

    Returns
    -------
    DensePatterns, PackedPatterns or HashedPatterns
        The same entries whatever the storage.
    """
    if storage not in STORAGE_KINDS:
        raise ValueError(
            f"storage must be one of {', '.join(STORAGE_KINDS)}; got {storage!r}"
        )
    hashed = HashedPatterns(seed, int(p), int(n))
    if storage == "hashed":
        return hashed
    if storage == "bits":
        return hashed.to_packed()
    return DensePatterns(hashed.to_int8())


@njit
def _labels(key, p, out):
    for mu in range(p):
        w = stream_word(key, mu // 64)
        out[mu] = np.int8(2 * ((np.int64(w >> np.uint64(mu % 64))) & 1) - 1)


def random_labels(seed, p):
    """``(p,)`` int8 ±1 labels of the instance ``seed`` (key separate from patterns)."""
    out = np.empty(int(p), dtype=np.int8)
    _labels(np.uint64(_key(seed, LABEL_DOMAIN)), int(p), out)
    return out


def random_instance(seed, p, n, storage="hashed"):
    """``(patterns, labels)`` of the storage problem of instance ``seed``."""
    return random_patterns(seed, p, n, storage), random_labels(seed, p)


def as_storage(patterns, kind=None):
    """A pattern storage object from an int8 array or a storage (converted to kind).

    ``kind=None`` keeps a storage object as it is and wraps an array as
    :class:`DensePatterns`. Hashed storage can only be made by
    :func:`random_patterns` (an arbitrary matrix has no generating key).
    """
    if isinstance(patterns, (DensePatterns, PackedPatterns, HashedPatterns)):
        store = patterns
    else:
        arr = np.asarray(patterns)
        if arr.ndim != 2:
            raise ValueError(f"patterns must be (P, N), got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer) or not np.all(np.abs(arr) == 1):
            raise ValueError("patterns must be a ±1 integer array (or a storage)")
        store = DensePatterns(arr)
    if kind is None or kind == store.kind:
        return store
    if kind == "int8":
        return DensePatterns(store.to_int8())
    if kind == "bits":
        if isinstance(store, HashedPatterns):
            return store.to_packed()
        return PackedPatterns.from_int8(store.to_int8())
    if kind == "hashed":
        raise ValueError("hashed storage is made by random_patterns(seed, p, n)")
    raise ValueError(f"storage must be one of {', '.join(STORAGE_KINDS)}; got {kind!r}")
