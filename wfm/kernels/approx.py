"""Vectorisable, branch-free approximations of the transcendental functions of BP.

glibc's ``exp``/``log``/``erfc`` are scalar calls and this llvmlite has no SVML, so a
loop that calls them cannot be vectorised by LLVM. The functions here are straight-line
float64 arithmetic (polynomials, one division, bit manipulation of the IEEE-754
representation, and ``select``s instead of branches), so that an edge loop calling them
compiles to AVX2 code. Each has a stated maximum error, tested against mpmath/scipy over
its whole input range, tails included (tests/test_kernels_bp_fast.py):


======================  ======================  ====================================
function                range                   max error (stated and tested)
======================  ======================  ====================================
:func:`exp_approx`      [-708, 709] (clamped)   relative 4e-16
:func:`log_approx`      normal x > 0            absolute 3e-16 (1 + |ln x|)
:func:`tanh_approx`     every x                 absolute 4e-16
:func:`log_erfcx`       z >= 0                  absolute 5e-15 (1 + |ln erfcx z|)
:func:`edge_field`      a real, b >= 0          absolute 2e-13 on g and on tanh g
:func:`exp_approx32`    [-87, 88] (clamped)     relative 3e-7
:func:`log_approx32`    normal x > 0            absolute 2e-7 (1 + |ln x|)
:func:`tanh_approx32`   every x                 absolute 3e-7
:func:`log_erfcx32`     z >= 0                  absolute 2e-7 (1 + |ln erfcx z|)
:func:`edge_field32`    a real, b >= 0          4e-7 (1 + |g|) on g, 5e-7 on tanh g
======================  ======================  ====================================

(``edge_field`` against mpmath at 40 digits, and against scipy's ``log_ndtr`` on a
dense grid where that difference is itself accurate; the float32 versions against the
float64 ones at the same float32 inputs.) The float32 versions have 8 lanes per AVX2
register and shorter polynomials (exp to ``r^7``, log to ``s^9``, ``P`` of degree 12).

Methods. ``exp``: ``x = k ln 2 + r`` (Cody–Waite two-constant reduction), degree-13
Taylor polynomial on ``|r| <= ln(2)/2``, ``2^k`` assembled in the exponent bits.
``log``: exponent and mantissa from the bits, mantissa moved into ``[sqrt(1/2),
sqrt(2))``, ``ln m = 2 atanh(s)``, ``s = (m - 1)/(m + 1)``, series to ``s^21``.
``ln erfcx(z) = ln t + P(2t - 1)``, ``t = 2/(2 + z)`` (the change of variable of
Numerical Recipes' ``erfccheb``): ``P`` is the degree-24 Chebyshev interpolant of
``ln(erfcx(z)/t)`` on ``t in (0, 1]`` (analytic there, including ``z -> inf``), computed
with mpmath at 50 digits by :func:`fit_log_erfcx` and stored in monomial form.

:func:`edge_field` is the BP factor -> variable field of one edge (wfm.kernels.bp):
``g = (ln H(a - b) - ln H(a + b))/2`` and ``tanh g``, ``H(x) = erfc(x/sqrt 2)/2``,
written as ``erfc(z) = Q(z) exp(-z^2 [z >= 0])``, so that the exponentials of both
tails cancel exactly: with ``z1, z2 = (a -+ b)/sqrt 2``,
``g = (ln(Q1/Q2) + delta)/2``, ``tanh g = (Q1 - Q2 e^-delta)/(Q1 + Q2 e^-delta)``,
``delta = z2^2 [z2 >= 0] - z1^2 [z1 >= 0]`` (``= 2ab`` when both are >= 0, no
cancellation). Three exps, one log, three divisions, no NaN or overflow at any
finite input.

Kernels that call these functions inline them (``inline="always"``: numba does not
inline across its compiled libraries, and a call stops vectorisation) and compile with
``error_model="numpy"`` (Python's division-by-zero check is a branch in the loop).
"""

import math
from functools import partial

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from wfm._numba import njit

#: numba compiles every function into its own library and calls across libraries are
#: not inlined by LLVM: a call in a loop stops vectorisation. ``inline="always"``
#: inlines at numba IR level, so callers get straight-line code.
injit = partial(njit, inline="always", error_model="numpy")

__all__ = [
    "LOG_ERFCX_COEFFS",
    "LOG_ERFCX_COEFFS32",
    "edge_field",
    "edge_field32",
    "exp_approx",
    "exp_approx32",
    "fit_log_erfcx",
    "log_approx",
    "log_approx32",
    "log_erfcx",
    "log_erfcx32",
    "tanh_approx",
    "tanh_approx32",
]


@intrinsic
def _as_int64(typingctx, x):
    """The bits of a float64 as an int64 (LLVM ``bitcast``, vectorisable)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _as_float64(typingctx, x):
    """The float64 with the bits of an int64 (LLVM ``bitcast``, vectorisable)."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: k * hi is exact
_LN2_LO = 1.90821492927058770002e-10
_LN2 = math.log(2.0)
EXP_MIN = -708.0  # exp(-708) = 3.3e-308 is still normal
EXP_MAX = 709.0
_SQRT2 = math.sqrt(2.0)
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000


@injit
def exp_approx(x):
    """``exp(x)``, branch-free, ``x`` clamped to ``[-708, 709]``: rel. error < 4e-16.

    NaN is not propagated (it is clamped like a number): kernels never pass one.
    """
    x = min(max(x, EXP_MIN), EXP_MAX)
    k = np.floor(x * _LOG2E + 0.5)  # a float (math.floor returns an int in numba)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    # Taylor to r^13 on |r| <= 0.347: remainder < 4e-18
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # k in [-1021, 1023] fits an int32 (cvttpd2dq vectorises, a 64-bit convert does not)
    ki = np.int64(np.int32(k))
    return p * _as_float64((ki + 1023) << 52)


@injit
def log_approx(x):
    """``ln x`` for normal ``x > 0``, branch-free: absolute error < 3e-16 (|ln x| + 1).

    Zero, negative, subnormal, inf and NaN inputs give meaningless finite numbers;
    callers guarantee a normal positive argument.
    """
    bits = _as_int64(x)
    e = (bits >> 52) - 1023
    m = _as_float64((bits & _MANTISSA) | _ONE_BITS)  # in [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    ef = float(np.int32(e)) + (1.0 if big else 0.0)
    s = (m - 1.0) / (m + 1.0)  # |s| <= 0.1716
    z = s * s
    # 2 atanh(s) = 2 s (1 + z/3 + z^2/5 + ...), to z^10: remainder < 2e-17 relative
    p = 1.0 / 21.0
    p = p * z + 1.0 / 19.0
    p = p * z + 1.0 / 17.0
    p = p * z + 1.0 / 15.0
    p = p * z + 1.0 / 13.0
    p = p * z + 1.0 / 11.0
    p = p * z + 1.0 / 9.0
    p = p * z + 1.0 / 7.0
    p = p * z + 1.0 / 5.0
    p = p * z + 1.0 / 3.0
    return ef * _LN2_HI + (2.0 * s + (2.0 * s * z * p + ef * _LN2_LO))


@injit
def tanh_approx(x):
    """``tanh(x)`` through :func:`exp_approx`: absolute error < 4e-16 at every x."""
    e = exp_approx(-2.0 * abs(x))
    return math.copysign((1.0 - e) / (1.0 + e), x)


#: monomial coefficients (in u = 2t - 1, constant first) of the degree-24 Chebyshev
#: interpolant of ln(erfcx(z) / t), t = 2/(2 + z); regenerate with fit_log_erfcx(24)
LOG_ERFCX_COEFFS = (
    -6.7179408405669226505e-1,
    6.7264322397765763669e-1,
    4.7343306841898186956e-2,
    -4.6895610231268430657e-2,
    -9.8726893657543291641e-3,
    8.8249385597544507672e-3,
    1.7589335383343835077e-3,
    -2.3458125344558510182e-3,
    -1.4624658593819773428e-4,
    6.7367901255959535746e-4,
    -9.3737248441360984231e-5,
    -1.7430363340430626847e-4,
    7.1411974209959156286e-5,
    3.1745644525872318033e-5,
    -3.0223285604111394294e-5,
    1.4209509994658064932e-7,
    8.6394853667440385893e-6,
    -2.9659329859106318791e-6,
    -1.3853380961247153543e-6,
    1.2851059663435587025e-6,
    -5.7457241119140761554e-8,
    -2.9024439955999925522e-7,
    8.3546942387408552079e-8,
    2.9923273057707580488e-8,
    -1.3791307091711106879e-8,
)
_C = LOG_ERFCX_COEFFS


@injit
def _log_erfcx_poly(t):
    """``P(2t - 1) = ln(erfcx(z)/t)``, ``t = 2/(2 + z)`` (Horner, unrolled)."""
    u = 2.0 * t - 1.0
    p = _C[24]
    p = p * u + _C[23]
    p = p * u + _C[22]
    p = p * u + _C[21]
    p = p * u + _C[20]
    p = p * u + _C[19]
    p = p * u + _C[18]
    p = p * u + _C[17]
    p = p * u + _C[16]
    p = p * u + _C[15]
    p = p * u + _C[14]
    p = p * u + _C[13]
    p = p * u + _C[12]
    p = p * u + _C[11]
    p = p * u + _C[10]
    p = p * u + _C[9]
    p = p * u + _C[8]
    p = p * u + _C[7]
    p = p * u + _C[6]
    p = p * u + _C[5]
    p = p * u + _C[4]
    p = p * u + _C[3]
    p = p * u + _C[2]
    p = p * u + _C[1]
    return p * u + _C[0]


@injit
def log_erfcx(z):
    """``ln erfcx(z) = ln(exp(z^2) erfc(z))``, ``z >= 0``: error < 5e-15 (1 + |ln|)."""
    t = 2.0 / (2.0 + z)
    return log_approx(t) + _log_erfcx_poly(t)


@injit
def _erfc_scaled(z, t):
    """``(Q, z >= 0)`` with ``erfc(z) = Q exp(-z^2 [z >= 0])``; ``Q`` in ``(0, 2]``.

    ``t = 2/(2 + |z|)``. ``z >= 0``: ``Q = erfcx(z) = t exp(P)``; ``z < 0``:
    ``Q = 2 - erfc(|z|)``.
    """
    pos = z >= 0.0
    e = t * exp_approx(_log_erfcx_poly(t) - (0.0 if pos else z * z))
    return (e if pos else 2.0 - e), pos


FIELD_MAX = 30.0  # the clamp of wfm.kernels.bp (BinaryCommitteeMachineFBP.jl)
_TANH_FIELD_MAX = math.tanh(FIELD_MAX)


@injit
def edge_field(a, b):
    """``g = (ln H(a - b) - ln H(a + b))/2`` clamped at 30, and ``tanh g``; ``b >= 0``.

    ``H(x) = erfc(x/sqrt 2)/2``. Branch-free (see the module docstring): absolute error
    < 2e-13 on both at every finite ``a`` and ``b >= 0``; never NaN or inf.
    """
    z1 = (a - b) * _SQRT1_2
    z2 = (a + b) * _SQRT1_2
    # one division for t = 2/(2 + |z|) of both, one for both quotients below
    d1 = 2.0 + abs(z1)
    d2 = 2.0 + abs(z2)
    inv = 2.0 / (d1 * d2)
    q1, pos1 = _erfc_scaled(z1, d2 * inv)
    q2, pos2 = _erfc_scaled(z2, d1 * inv)
    delta = 2.0 * a * b if pos1 else (z2 * z2 if pos2 else 0.0)
    r = q2 * exp_approx(-min(delta, 700.0))
    w = q1 + r
    inv = 1.0 / (q2 * w)
    g = 0.5 * (log_approx(q1 * w * inv) + delta)
    tg = (q1 - r) * q2 * inv
    big = g > FIELD_MAX
    return (FIELD_MAX if big else g), (_TANH_FIELD_MAX if big else tg)


def fit_log_erfcx(deg=24, dps=50):
    """Monomial coefficients (in ``u = 2t - 1``) of the degree-``deg`` Chebyshev
    interpolant of ``ln(erfcx(z)/t)``, ``t = 2/(2 + z)``, computed with mpmath at
    ``dps`` digits (how :data:`LOG_ERFCX_COEFFS` was made; needs mpmath)."""
    import mpmath as mp

    with mp.workdps(dps):
        nodes = [
            mp.cos(mp.pi * (k + mp.mpf(1) / 2) / (deg + 1)) for k in range(deg + 1)
        ]

        def target(u):
            t = (u + 1) / 2
            z = 2 / t - 2
            return mp.log(mp.erfc(z) * mp.exp(z * z)) - mp.log(t)

        y = [target(u) for u in nodes]
        cheb = []
        for j in range(deg + 1):
            acc = mp.fsum(
                y[k] * mp.cos(j * mp.pi * (k + mp.mpf(1) / 2) / (deg + 1))
                for k in range(deg + 1)
            )
            cheb.append(acc * 2 / (deg + 1) / (2 if j == 0 else 1))
        # Chebyshev -> monomial: T_{n+1} = 2u T_n - T_{n-1}
        t_polys = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
        for _ in range(2, deg + 1):
            a = [mp.mpf(0)] + [2 * c for c in t_polys[-1]]
            b = t_polys[-2] + [mp.mpf(0)] * (len(a) - len(t_polys[-2]))
            t_polys.append([x - y for x, y in zip(a, b, strict=True)])
        mono = [mp.mpf(0)] * (deg + 1)
        for j in range(deg + 1):
            for i, c in enumerate(t_polys[j]):
                mono[i] += cheb[j] * c
        return tuple(float(c) for c in mono)


# ---------------------------------------------------------------------------
# float32 versions: 8 lanes per AVX2 register, shorter polynomials
# ---------------------------------------------------------------------------
@intrinsic
def _as_int32(typingctx, x):
    """The bits of a float32 as an int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _as_float32(typingctx, x):
    """The float32 with the low 32 bits of an integer (numba widens int32 sums)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        v = args[0]
        if x.bitwidth != 32:
            v = builder.trunc(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(x), codegen


_f = np.float32
_F0, _F1, _F2, _HALF32 = _f(0.0), _f(1.0), _f(2.0), _f(0.5)
_EXP32_MIN, _EXP32_MAX = _f(-87.0), _f(88.0)  # exp(-87) = 1.6e-38 is still normal
_LOG2E32 = _f(_LOG2E)
_LN2_HI32 = _f(0.693359375)  # Cephes' split: k * hi exact for |k| < 2^11
_LN2_LO32 = _f(-2.12194440e-4)
_SQRT2_32 = _f(_SQRT2)
_SQRT1_2_32 = _f(_SQRT1_2)
_EXP32_TAYLOR = tuple(_f(1.0 / math.factorial(k)) for k in range(8))
_LOG32_SERIES = tuple(_f(1.0 / (2 * k + 1)) for k in range(5))
_I32_127 = np.int32(127)
_I32_23 = np.int32(23)
_MANTISSA32 = np.int32(0x007FFFFF)
_ONE_BITS32 = np.int32(0x3F800000)


@injit
def exp_approx32(x):
    """float32 ``exp(x)``, ``x`` clamped to ``[-87, 88]``: relative error < 3e-7."""
    x = min(max(x, _EXP32_MIN), _EXP32_MAX)
    k = np.floor(x * _LOG2E32 + _HALF32)
    r = (x - k * _LN2_HI32) - k * _LN2_LO32
    c = _EXP32_TAYLOR  # Taylor to r^7 on |r| <= 0.347: remainder < 6e-9
    p = c[7]
    p = p * r + c[6]
    p = p * r + c[5]
    p = p * r + c[4]
    p = p * r + c[3]
    p = p * r + c[2]
    p = p * r + c[1]
    p = p * r + c[0]
    return p * _as_float32((np.int32(k) + _I32_127) << _I32_23)


@injit
def log_approx32(x):
    """float32 ``ln x`` for normal ``x > 0``: absolute error < 2e-7 (|ln x| + 1)."""
    bits = _as_int32(x)
    e = (bits >> _I32_23) - _I32_127
    m = _as_float32((bits & _MANTISSA32) | _ONE_BITS32)
    big = m > _SQRT2_32
    m = m * _HALF32 if big else m
    ef = np.float32(e) + (_F1 if big else _F0)
    s = (m - _F1) / (m + _F1)
    z = s * s
    c = _LOG32_SERIES  # 2 atanh(s) to z^4: remainder < 3e-9 relative
    p = c[4]
    p = p * z + c[3]
    p = p * z + c[2]
    p = p * z + c[1]
    return ef * _LN2_HI32 + (_F2 * s + (_F2 * s * z * p + ef * _LN2_LO32))


@injit
def tanh_approx32(x):
    """float32 ``tanh(x)`` through :func:`exp_approx32`: absolute error < 3e-7."""
    e = exp_approx32(_f(-2.0) * abs(x))
    return math.copysign((_F1 - e) / (_F1 + e), x)


#: float32 counterpart of LOG_ERFCX_COEFFS: degree 12 (truncation error 7e-9)
LOG_ERFCX_COEFFS32 = (
    -0.6717940840566923,
    0.6726431522588268,
    0.04734334109347023,
    -0.046893590304725064,
    -0.009873662468445727,
    0.008808544323316852,
    0.0017670032525904623,
    -0.0022881236566899177,
    -0.0001758054723287054,
    0.0005731254989469202,
    -3.825410526006034e-05,
    -8.70509883316567e-05,
    1.5401817283772113e-05,
)
_C32 = tuple(_f(c) for c in LOG_ERFCX_COEFFS32)


@injit
def _log_erfcx_poly32(t):
    u = _F2 * t - _F1
    p = _C32[12]
    p = p * u + _C32[11]
    p = p * u + _C32[10]
    p = p * u + _C32[9]
    p = p * u + _C32[8]
    p = p * u + _C32[7]
    p = p * u + _C32[6]
    p = p * u + _C32[5]
    p = p * u + _C32[4]
    p = p * u + _C32[3]
    p = p * u + _C32[2]
    p = p * u + _C32[1]
    return p * u + _C32[0]


@injit
def log_erfcx32(z):
    """float32 ``ln erfcx(z)``, ``z >= 0``: error < 2e-7 (1 + |value|)."""
    t = _F2 / (_F2 + z)
    return log_approx32(t) + _log_erfcx_poly32(t)


@injit
def _erfc_scaled32(z, t):
    pos = z >= _F0
    e = t * exp_approx32(_log_erfcx_poly32(t) - (_F0 if pos else z * z))
    return (e if pos else _F2 - e), pos


_FIELD_MAX32 = _f(FIELD_MAX)
_TANH_FIELD_MAX32 = _f(_TANH_FIELD_MAX)
_DELTA_MAX32 = _f(87.0)


@injit
def edge_field32(a, b):
    """float32 :func:`edge_field` (``a``, ``b``, results float32): error < 4e-7
    (1 + |g|) on g, < 5e-7 on tanh g."""
    z1 = (a - b) * _SQRT1_2_32
    z2 = (a + b) * _SQRT1_2_32
    # one division for t = 2/(2 + |z|) of both, one for both quotients below
    d1 = _F2 + abs(z1)
    d2 = _F2 + abs(z2)
    inv = _F2 / (d1 * d2)
    q1, pos1 = _erfc_scaled32(z1, d2 * inv)
    q2, pos2 = _erfc_scaled32(z2, d1 * inv)
    delta = _F2 * a * b if pos1 else (z2 * z2 if pos2 else _F0)
    r = q2 * exp_approx32(-min(delta, _DELTA_MAX32))
    w = q1 + r
    inv = _F1 / (q2 * w)
    g = _HALF32 * (log_approx32(q1 * w * inv) + delta)
    tg = (q1 - r) * q2 * inv
    big = g > _FIELD_MAX32
    return (_FIELD_MAX32 if big else g), (_TANH_FIELD_MAX32 if big else tg)
