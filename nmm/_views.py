"""Array views for generated kernels that carry no reference count.

Slicing an array in numba (``H[k:]``) makes a view that shares the array's memory
information, so each slice takes and drops a reference with an atomic instruction. The
network kernel slices its ring buffers and state rows per region, per step and per group
of edges, millions of times a second; :func:`tail` makes the same view without a memory
information (as :func:`numba.carray` does), so nothing is counted. The view must not
outlive its array: the kernels use it only within the function that owns the array.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

if TYPE_CHECKING:
    from llvmlite import ir
    from numba.core.base import BaseContext
    from numba.core.typing.context import BaseContext as TypingContext
    from numba.core.typing.templates import Signature

    _Lowering: TypeAlias = tuple[Signature, Callable[[BaseContext, ir.IRBuilder, Signature, list[ir.Value]],
                                                     ir.Value]]

__all__ = ["tail"]


@intrinsic
def tail(typingctx: TypingContext, arr: types.Type, offset: types.Type) -> _Lowering | None:
    """``arr[offset:]`` of a one-dimensional contiguous array, as a view without a
    reference count (``offset`` is not checked: it must lie within the array)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
            and isinstance(offset, types.Integer)):
        return None
    ret = types.Array(arr.dtype, 1, "C")
    sig = ret(arr, offset)

    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: list[ir.Value]) -> ir.Value:
        src = make_array(signature.args[0])(context, builder, args[0])
        off = context.cast(builder, args[1], signature.args[1], types.intp)
        out = make_array(ret)(context, builder)
        n = builder.sub(cgutils.unpack_tuple(builder, src.shape, 1)[0], off)
        populate_array(out, data=builder.gep(src.data, [off], inbounds=True), shape=cgutils.pack_array(builder, [n]),
                       strides=cgutils.pack_array(builder, [src.itemsize]), itemsize=src.itemsize, meminfo=None)
        return out._getvalue()

    return sig, codegen
