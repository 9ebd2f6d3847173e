"""The torch-free checkpoint reader: the shipped weights read right, hostile checkpoints refused."""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from superintendent_core.features import CheckpointError, load_state_dict
from superintendent_core.features.checkpoint import LEGACY_MAGIC, LEGACY_PROTOCOL
from superintendent_core.features.efficientnet import weights_path

WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


@pytest.fixture(scope="module")
def shipped():
    return load_state_dict(weights_path())


def test_the_shipped_checkpoint_reads_as_torch_reads_it(shipped):
    # Values below were read with torch.load (torch 2.13.0) from the same file.
    assert len(shipped) == 296
    stem = shipped["_conv_stem.weight"]  # stored with strides (1, 32, 288, 96): not contiguous in the file
    assert stem.shape == (32, 3, 3, 3) and stem.dtype == np.float32 and stem.flags["C_CONTIGUOUS"]
    assert float(stem[5, 2, 1, 0]) == pytest.approx(-0.16491231322288513, abs=0)
    assert float(stem[0, 1, 2, 1]) == pytest.approx(1.1084741353988647, abs=0)
    assert float(shipped["_blocks.3._depthwise_conv.weight"][100, 0, 4, 1]) == pytest.approx(0.04458676278591156, abs=0)
    assert float(stem.astype(np.float64).sum()) == pytest.approx(-26.811376610887237, rel=1e-12)
    assert float(shipped["_bn1.running_var"].astype(np.float64).sum()) == pytest.approx(13721.746045589447, rel=1e-12)
    assert shipped["_bn0.num_batches_tracked"].shape == () and shipped["_bn0.num_batches_tracked"].dtype == np.int64


def test_the_shipped_checkpoint_is_the_one_the_fixture_was_made_with():
    import hashlib

    with open(weights_path(), "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == WEIGHTS_SHA256


# --------------------------------------------------------------------------- hostile files


class _RunsCode:
    """Unpickled by plain pickle, this would run a shell command (create the marker file)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _legacy(payload: bytes, keys: list[str] | None = None, storages: bytes = b"") -> bytes:
    return (
        pickle.dumps(LEGACY_MAGIC, protocol=2)
        + pickle.dumps(LEGACY_PROTOCOL, protocol=2)
        + pickle.dumps({"protocol_version": LEGACY_PROTOCOL, "little_endian": True}, protocol=2)
        + payload
        + pickle.dumps(keys or [], protocol=2)
        + storages
    )


def test_a_checkpoint_naming_os_system_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    evil = _legacy(pickle.dumps(OrderedDict(w=_RunsCode(str(marker))), protocol=2))
    with pytest.raises(CheckpointError, match=r"names (posix|os|nt)\.system"):
        load_state_dict(evil)
    assert not marker.exists()
    # the same payload in the zip format
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": _RunsCode(str(marker))}, protocol=2))
    with pytest.raises(CheckpointError, match="system"):
        load_state_dict(buf.getvalue())
    assert not marker.exists()


@pytest.mark.parametrize("obj", [eval, getattr, __import__, types.SimpleNamespace, np.array])
def test_any_other_global_is_refused(obj):
    with pytest.raises(CheckpointError, match="refused"):
        load_state_dict(_legacy(pickle.dumps({"w": obj}, protocol=2)))


def test_a_header_pickle_with_a_global_is_refused_too(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(CheckpointError, match="system"):
        load_state_dict(pickle.dumps(_RunsCode(str(marker)), protocol=2))
    assert not marker.exists()


@pytest.mark.parametrize("raw", [b"", b"not a checkpoint", b"\x80\x02K\x01."])
def test_garbage_is_refused_with_a_reason(raw):
    with pytest.raises(CheckpointError):
        load_state_dict(raw)


# --------------------------------------------------------------------------- checkpoints written like torch writes them


@pytest.fixture
def fake_torch(monkeypatch):
    """Importable stand-ins named like torch's rebuild function and storage class, so pickle writes the same globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"

    def _rebuild_tensor_v2(*args):  # never called: our reader resolves the name itself
        raise AssertionError

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


class _Tensor:
    def __init__(self, key, offset, shape, stride):
        self.key, self.offset, self.shape, self.stride = key, offset, shape, stride

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2,
                (("storage", self.key), self.offset, self.shape, self.stride, False, OrderedDict()))


def _pickle_state(tensors: dict, numels: dict, zip_format: bool) -> bytes:
    torch = sys.modules["torch"]
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=2)

    def persistent_id(obj):
        if isinstance(obj, tuple) and obj and obj[0] == "storage":
            key = obj[1]
            if zip_format:
                return ("storage", torch.FloatStorage, key, "cpu", numels[key])
            return ("storage", torch.FloatStorage, key, "cpu", numels[key], None)
        return None

    pickler.persistent_id = persistent_id
    pickler.dump(OrderedDict(tensors))
    return buf.getvalue()


def _write(tensors: dict, data: dict[str, np.ndarray], zip_format: bool, *, lie: int = 0) -> bytes:
    numels = {k: v.size + lie for k, v in data.items()}
    payload = _pickle_state(tensors, numels, zip_format)
    if zip_format:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("archive/data.pkl", payload)
            zf.writestr("archive/byteorder", "little")
            for key, arr in data.items():
                zf.writestr(f"archive/data/{key}", arr.astype("<f4").tobytes())
        return buf.getvalue()
    storages = b"".join(struct.pack("<q", numels[k]) + data[k].astype("<f4").tobytes() for k in data)
    return _legacy(payload, list(data), storages)


@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_tensors_are_read_through_offset_shape_and_strides(fake_torch, zip_format):
    storage = np.arange(24, dtype=np.float32)
    tensors = {
        "plain": _Tensor("0", 0, (2, 3), (3, 1)),
        "transposed": _Tensor("0", 0, (3, 2), (1, 3)),
        "offset": _Tensor("0", 10, (2, 2), (4, 1)),
        "scalar": _Tensor("0", 23, (), ()),
    }
    out = load_state_dict(_write(tensors, {"0": storage}, zip_format))
    np.testing.assert_array_equal(out["plain"], storage[:6].reshape(2, 3))
    np.testing.assert_array_equal(out["transposed"], storage[:6].reshape(2, 3).T)
    np.testing.assert_array_equal(out["offset"], [[10, 11], [14, 15]])
    assert out["scalar"].shape == () and float(out["scalar"]) == 23.0


@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_a_tensor_reaching_outside_its_storage_is_refused(fake_torch, zip_format):
    storage = np.arange(6, dtype=np.float32)
    for bad in (_Tensor("0", 0, (3, 3), (3, 1)), _Tensor("0", 5, (2,), (1,)), _Tensor("0", 0, (2, 2), (100, 1))):
        with pytest.raises(CheckpointError, match="reaches element"):
            load_state_dict(_write({"w": bad}, {"0": storage}, zip_format))
    with pytest.raises(CheckpointError, match="malformed"):
        load_state_dict(_write({"w": _Tensor("0", 0, (2,), (-1,))}, {"0": storage}, zip_format))
    bomb = _Tensor("0", 0, (10**6, 10**6), (0, 0))  # stays inside the storage, but would need 4 TB
    with pytest.raises(CheckpointError, match="repeats storage"):
        load_state_dict(_write({"w": bomb}, {"0": storage}, zip_format))


@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_a_storage_shorter_than_declared_is_refused(fake_torch, zip_format):
    raw = _write({"w": _Tensor("0", 0, (6,), (1,))}, {"0": np.arange(6, dtype=np.float32)}, zip_format, lie=1)
    with pytest.raises(CheckpointError):
        load_state_dict(raw)


def test_a_truncated_legacy_checkpoint_is_refused(fake_torch):
    raw = _write({"w": _Tensor("0", 0, (6,), (1,))}, {"0": np.arange(6, dtype=np.float32)}, False)
    with pytest.raises(CheckpointError, match="truncated"):
        load_state_dict(raw[:-3])


def test_the_real_checkpoint_truncated_is_refused():
    with open(weights_path(), "rb") as fh:
        raw = fh.read()
    for cut in (100, 50_000, len(raw) - 1000):
        with pytest.raises(CheckpointError):
            load_state_dict(raw[:cut])


def _build_step(offset: int, stride: int) -> bytes:
    """A legacy checkpoint whose tensor is rewritten by a pickle BUILD step after _rebuild_tensor checked it."""

    def uni(s: str) -> bytes:
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b

    def bint(i: int) -> bytes:
        return b"J" + struct.pack("<i", i)

    sd = (b"\x80\x02" + b"ccollections\nOrderedDict\n)R" + uni("w")
          + b"ctorch._utils\n_rebuild_tensor_v2\n("
          + b"(" + uni("storage") + b"ctorch\nFloatStorage\n" + uni("0") + uni("cpu") + b"K\x04N" + b"tQ"
          + b"K\x00" + b"(K\x02t" + b"(K\x01t" + b"tR"
          + b"}" + uni("offset") + bint(offset) + b"s" + uni("stride") + b"(" + bint(stride) + b"t" + b"s" + b"b"
          + b"s.")
    p = lambda o: pickle.dumps(o, protocol=2)  # noqa: E731
    return (p(LEGACY_MAGIC) + p(LEGACY_PROTOCOL) + p({"little_endian": True}) + sd + p(["0"])
            + struct.pack("<q", 4) + struct.pack("<4f", 1, 2, 3, 4))


@pytest.mark.parametrize(("offset", "stride"), [(-4, 4), (-1_000_000_000, 1_000_000_000)])
def test_a_build_step_that_rewrites_a_checked_tensor_is_refused(offset, stride):
    """Before: -4/4 read memory past the storage, -1e9/1e9 crashed the interpreter."""
    with pytest.raises(CheckpointError, match="rewrites an object's fields"):
        load_state_dict(_build_step(offset, stride))
