"""An append-only, fsync'd log of label events with a torn-tail repair.

Each record is a frame ``<length:u32> <crc32:u32> <payload>``; the payload is
``<seq:i64> <type:i8> <item:i64> <time:f64> <seconds:f64> <ref:i64>`` followed
by two length-prefixed UTF-8 strings (labeller, label; a length of
``0xFFFFFFFF`` means no label). A record is written with one ``os.write`` and
made durable with ``fdatasync`` before :meth:`EventLog.append` returns.

On open the frames are read in order; the first frame that is short or fails
its checksum ends the log (a write torn by a crash can only be the last one).
The file is truncated there; the dropped bytes are kept next to it for
inspection.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from .ledger import Event

__all__ = ["EventLog", "encode", "read_events"]

_HEAD = struct.Struct("<II")
_FIXED = struct.Struct("<qbqddq")
_LEN = struct.Struct("<I")
_NONE = 0xFFFFFFFF

_sync = getattr(os, "fdatasync", os.fsync)


def encode(event: Event) -> bytes:
    """One framed record."""
    lab = event.labeller.encode("utf-8")
    parts = [
        _FIXED.pack(event.seq, event.type, event.item, event.time, event.seconds, event.ref),
        _LEN.pack(len(lab)),
        lab,
    ]
    if event.label is None:
        parts.append(_LEN.pack(_NONE))
    else:
        text = event.label.encode("utf-8")
        parts += [_LEN.pack(len(text)), text]
    payload = b"".join(parts)
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def _decode(payload: bytes) -> Event:
    seq, typ, item, t, seconds, ref = _FIXED.unpack_from(payload, 0)
    pos = _FIXED.size
    (n,) = _LEN.unpack_from(payload, pos)
    pos += 4
    labeller = payload[pos : pos + n].decode("utf-8")
    pos += n
    (n,) = _LEN.unpack_from(payload, pos)
    pos += 4
    label = None if n == _NONE else payload[pos : pos + n].decode("utf-8")
    return Event(seq, typ, item, labeller, label, t, seconds, ref)


def read_events(data: bytes) -> tuple[list[Event], int]:
    """Decode every whole, valid frame; returns (events, bytes used)."""
    events: list[Event] = []
    pos, end = 0, len(data)
    while pos + _HEAD.size <= end:
        length, crc = _HEAD.unpack_from(data, pos)
        start = pos + _HEAD.size
        if start + length > end:
            break
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            break
        try:
            events.append(_decode(payload))
        except (struct.error, UnicodeDecodeError):
            break
        pos = start + length
    return events, pos


class EventLog:
    """The log file of a project (opened for appending)."""

    def __init__(self, path: Path, *, sync: bool = True) -> None:
        self.path = Path(path)
        self.sync = sync
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.n_records = 0
        if created and sync:  # the new file's name must survive a crash too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def read(self) -> list[Event]:
        """All valid records; repairs a torn tail (truncating the file)."""
        with open(self.path, "rb") as fh:
            data = fh.read()
        events, used = read_events(data)
        if used < len(data):
            torn = self.path.with_name(self.path.name + ".torn")
            with open(torn, "ab") as fh:
                fh.write(data[used:])
                fh.flush()
                os.fsync(fh.fileno())
            os.ftruncate(self._fd, used)
            os.fsync(self._fd)
        self.n_records = len(events)
        return events

    def append(self, event: Event) -> None:
        """Write one record and make it durable before returning."""
        self.append_many([event])

    def append_many(self, events: list[Event]) -> None:
        data = b"".join(encode(e) for e in events)
        view = memoryview(data)
        size = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            # A partial frame (disk full...) must not stay in front of later records.
            os.ftruncate(self._fd, size)
            raise
        if self.sync:
            _sync(self._fd)
        self.n_records += len(events)

    def truncate(self) -> None:
        """Empty the log (after its events are safely in a snapshot)."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self.n_records = 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __iter__(self) -> Iterator[Event]:
        return iter(self.read())
