"""Branch-free exponential functions that LLVM can vectorize.

The pip build of numba has no vector math library, so ``math.exp`` stays a scalar
libm call and blocks vectorization of the kernels' inner loop over points. These
functions compute ``exp`` with a Cody-Waite range reduction ``x = n ln2 + r`` and a
Taylor polynomial for ``exp(r)`` on ``|r| <= ln2 / 2``, then scale by ``2**n`` by adding
``n`` to the exponent bits. Everything is arithmetic, ``min``/``max`` and bit casts, so
a loop calling them vectorizes.

Accuracy: ``fexp64`` is within a few ulp of ``math.exp`` for ``-700 <= x <= 709``
(relative error below 1e-15); arguments below -700 return ``exp(-700)`` (about
1e-304) instead of a smaller number. ``fexp32`` is within a few float32 ulp for
``-87 <= x <= 88``. NaN and infinite arguments return NaN, so a diverging simulation
stays visible.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

if TYPE_CHECKING:
    from llvmlite import ir
    from numba.core.base import BaseContext
    from numba.core.typing.context import BaseContext as TypingContext
    from numba.core.typing.templates import Signature

    #: what a typer of ``@intrinsic`` returns: the signature and the code generator
    _Lowering: TypeAlias = tuple[Signature, Callable[[BaseContext, ir.IRBuilder, Signature, list[ir.Value]],
                                                     ir.Value]]

__all__ = ["fexp64", "fexp32", "FASTMATH_VERSION"]

#: bump when the numerics here change: it is part of the kernel cache key
FASTMATH_VERSION = "1"


@intrinsic
def _f2i(typingctx: TypingContext, x: types.Type) -> _Lowering | None:
    """Reinterpret the bits of a float as the integer of the same width."""
    ret: types.Type
    if x == types.float64:
        ret = types.int64
    elif x == types.float32:
        ret = types.int32
    else:
        return None
    sig = ret(x)

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: list[ir.Value]) -> ir.Value:
        return builder.bitcast(args[0], context.get_value_type(ret))

    return sig, codegen


@intrinsic
def _i2f(typingctx: TypingContext, x: types.Type) -> _Lowering | None:
    """Reinterpret the bits of an integer as the float of the same width."""
    ret: types.Type
    if x == types.int64:
        ret = types.float64
    elif x == types.int32:
        ret = types.float32
    else:
        return None
    sig = ret(x)

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: list[ir.Value]) -> ir.Value:
        return builder.bitcast(args[0], context.get_value_type(ret))

    return sig, codegen


_F64 = numba.float64
_F32 = numba.float32

# float64 constants
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_MAGIC64 = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer in the low bits
_MAGIC64_BITS = 0x4338000000000000
_INV = [1.0 / f for f in (1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800,
                          39916800, 479001600, 6227020800)]
_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13 = _INV[2:]


@numba.njit(inline="always", error_model="numpy", cache=True)
def fexp64(x: float) -> float:
    """``exp(x)`` in float64, branch free (see the module docstring)."""
    nan_or_zero = x * 0.0
    xc = min(max(x, -700.0), 709.0)
    kn = xc * _LOG2E + _MAGIC64
    n = kn - _MAGIC64
    r = (xc - n * _LN2_HI) - n * _LN2_LO
    p = _C13
    p = p * r + _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + 1.0
    p = p * r + 1.0
    # numba's stub types a call of an @intrinsic with its typer's signature (typingctx
    # first) and as never returning; compiled code calls it with the value alone
    shift = (_f2i(kn) - _MAGIC64_BITS) << 52  # type: ignore[call-arg, arg-type]
    return _i2f(_f2i(p) + shift) + nan_or_zero


_LOG2E_32 = numba.float32(1.4426950408889634)
_LN2_HI_32 = numba.float32(0.693359375)
_LN2_LO_32 = numba.float32(-2.12194440e-4)
_MAGIC32 = numba.float32(12582912.0)  # 1.5 * 2**23
_MAGIC32_BITS = numba.int32(0x4B400000)
_LO32 = numba.float32(-87.0)
_HI32 = numba.float32(88.0)
_ZERO32 = numba.float32(0.0)
_ONE32 = numba.float32(1.0)
_D2, _D3, _D4, _D5, _D6, _D7, _D8 = (numba.float32(c) for c in _INV[2:9])
_SHIFT32 = numba.int32(23)


@numba.njit(inline="always", error_model="numpy", cache=True)
def fexp32(x: np.float32) -> np.float32:
    """``exp(x)`` in float32, branch free (see the module docstring)."""
    nan_or_zero = x * _ZERO32
    xc = min(max(x, _LO32), _HI32)
    kn = xc * _LOG2E_32 + _MAGIC32
    n = kn - _MAGIC32
    r = (xc - n * _LN2_HI_32) - n * _LN2_LO_32
    p = _D8
    p = p * r + _D7
    p = p * r + _D6
    p = p * r + _D5
    p = p * r + _D4
    p = p * r + _D3
    p = p * r + _D2
    p = p * r + _ONE32
    p = p * r + _ONE32
    # numba widens int32 arithmetic to int64: narrow back before the bit cast
    shift = (_f2i(kn) - _MAGIC32_BITS) << _SHIFT32  # type: ignore[call-arg, arg-type]  # as in fexp64
    return _i2f(np.int32(_f2i(p) + shift)) + nan_or_zero
