"""Just enough of the ONNX protobuf format to write a model, so the ``onnx`` package is not needed at run time.

onnxruntime reads a model from its serialised ``ModelProto`` bytes. Writing
those bytes needs only protobuf's wire format (varints and length-delimited
fields) and the field numbers of the few messages a convolutional network uses,
taken from ``onnx/onnx.proto`` (proto2; repeated scalars written unpacked, which
every parser accepts). The ``onnx`` package (about 33 MB installed with its
``ml_dtypes``) is then needed only by the tests, which parse these bytes with it
and run ``onnx.checker`` on them.

Each function returns the bytes of one message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["model", "graph", "node", "tensor", "value_info"]

_VARINT, _LEN = 0, 2
FLOAT = 1  # TensorProto.DataType.FLOAT
_ATTR_INT, _ATTR_INTS = 2, 7  # AttributeProto.AttributeType
_DTYPES = {np.dtype("float32"): FLOAT, np.dtype("int64"): 7}


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64: two's complement, 10 bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3 | _VARINT) + _varint(int(value))


def _bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | _LEN) + _varint(len(value)) + value


def _str(field: int, value: str) -> bytes:
    return _bytes(field, value.encode("utf-8"))


def tensor(name: str, array: np.ndarray) -> bytes:
    """``TensorProto``: dims (1), data_type (2), name (8), raw_data (9, little endian)."""
    array = np.asarray(array)
    data_type = _DTYPES[array.dtype]
    return (
        b"".join(_int(1, d) for d in array.shape)
        + _int(2, data_type)
        + _str(8, name)
        + _bytes(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    )


def _attribute(name: str, value: int | Sequence[int]) -> bytes:
    """``AttributeProto``: name (1), i (3) or ints (8), type (20)."""
    if isinstance(value, int | np.integer):
        return _str(1, name) + _int(3, int(value)) + _int(20, _ATTR_INT)
    return _str(1, name) + b"".join(_int(8, int(v)) for v in value) + _int(20, _ATTR_INTS)


def node(op_type: str, inputs: Iterable[str], outputs: Iterable[str], *, name: str = "",
         **attributes: int | Sequence[int]) -> bytes:
    """``NodeProto``: input (1), output (2), name (3), op_type (4), attribute (5); integer attributes only."""
    return (
        b"".join(_str(1, i) for i in inputs)
        + b"".join(_str(2, o) for o in outputs)
        + (_str(3, name) if name else b"")
        + _str(4, op_type)
        + b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())
    )


def value_info(name: str, dims: Sequence[int | str], elem_type: int = FLOAT) -> bytes:
    """``ValueInfoProto`` of a tensor: name (1), type (2) = TypeProto{tensor_type (1) = {elem_type (1), shape (2)}}.

    A dimension is a number (``dim_value``, 1) or a name (``dim_param``, 2).
    """
    dims_bytes = b"".join(
        _bytes(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in dims
    )
    tensor_type = _int(1, elem_type) + _bytes(2, dims_bytes)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def graph(name: str, nodes: Iterable[bytes], inputs: Iterable[bytes], outputs: Iterable[bytes],
          initializers: Iterable[bytes]) -> bytes:
    """``GraphProto``: node (1), name (2), initializer (5), input (11), output (12)."""
    return (
        b"".join(_bytes(1, n) for n in nodes)
        + _str(2, name)
        + b"".join(_bytes(5, t) for t in initializers)
        + b"".join(_bytes(11, v) for v in inputs)
        + b"".join(_bytes(12, v) for v in outputs)
    )


def model(graph_bytes: bytes, *, opset: int, ir_version: int, producer: str) -> bytes:
    """``ModelProto``: ir_version (1), producer_name (2), graph (7), opset_import (8) = {domain (1) "", version (2)}."""
    return _int(1, ir_version) + _str(2, producer) + _bytes(7, graph_bytes) + _bytes(8, _int(2, opset))
