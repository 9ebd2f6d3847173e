"""An append-only, fsync'd log of label events with a torn-tail repair.

Each record is a frame ``<length:u32> <crc32:u32> <payload>``; the payload is
``<seq:i64> <type:i8> <item:i64> <time:f64> <seconds:f64> <ref:i64>`` followed
by two length-prefixed UTF-8 strings (labeller, label; a length of
``0xFFFFFFFF`` means no label) and, for a label that records an audit draw
(format 2), ``<probability:f64> <support:i64> <seq:i64>`` — in the same record,
so the draw is durable exactly when its label is. A record is written with one ``os.write`` and
made durable with ``fdatasync`` before :meth:`EventLog.append` returns.

On open the frames are read in order (:func:`scan`). A final frame shorter
than its length field is a write torn by a crash: the file is truncated there,
silently (the record was never acknowledged), and the bytes are kept in
``labels.log.torn``. A frame that fails its checksum anywhere else is damage: the
reader resynchronises on the next valid frame, so no later record is lost; the
damaged bytes are kept in ``labels.log.damaged-<n>`` and described in
:attr:`EventLog.damage`. A record written twice (same seq, same bytes) counts once.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .ledger import Event

__all__ = ["EventLog", "LogScan", "encode", "read_events", "scan"]

_HEAD = struct.Struct("<II")
_FIXED = struct.Struct("<qbqddq")
_LEN = struct.Struct("<I")
_NONE = 0xFFFFFFFF
_AUDIT = struct.Struct("<dqq")

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
    if event.audit is not None:
        q, support, seq = event.audit
        parts.append(_AUDIT.pack(float(q), int(support), int(seq)))
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
    if n != _NONE:
        pos += n
    audit = None
    if len(payload) - pos == _AUDIT.size:
        q, support, order_seq = _AUDIT.unpack_from(payload, pos)
        audit = (q, support, order_seq)
    return Event(seq, typ, item, labeller, label, t, seconds, ref, audit)


_MIN_PAYLOAD = _FIXED.size + 2 * _LEN.size
_MAX_PAYLOAD = 1 << 24  # far above any real record; a larger length is damage, not a record


def _decode_exact(payload: bytes) -> Event | None:
    """The event in ``payload``, or None unless the payload is exactly one well-formed event."""
    try:
        event = _decode(payload)
    except (struct.error, UnicodeDecodeError):
        return None
    return event if len(encode(event)) == _HEAD.size + len(payload) else None


def _frame_at(data: bytes, pos: int, end: int) -> tuple[Event, bytes, int] | None:
    """The valid frame starting at ``pos`` ending by ``end``: (event, payload, next position), else None."""
    if pos + _HEAD.size > end:
        return None
    length, crc = _HEAD.unpack_from(data, pos)
    start = pos + _HEAD.size
    if not _MIN_PAYLOAD <= length <= _MAX_PAYLOAD or start + length > end:
        return None
    payload = data[start : start + length]
    if zlib.crc32(payload) != crc:
        return None
    event = _decode_exact(payload)
    return None if event is None else (event, payload, start + length)


def _whole(data: bytes, pos: int, end: int) -> tuple[Event, bytes] | None:
    """``data[pos:end]`` as one record whose length field alone is wrong (its checksum still holds)."""
    if end - pos < _HEAD.size + _MIN_PAYLOAD:
        return None
    (crc,) = _LEN.unpack_from(data, pos + 4)
    payload = data[pos + _HEAD.size : end]
    if zlib.crc32(payload) != crc:
        return None
    event = _decode_exact(payload)
    return None if event is None else (event, payload)


def _is_torn(data: bytes, pos: int, end: int) -> bool:
    """Whether ``data[pos:end]`` looks like the start of a record cut short by a crash."""
    if end - pos < _HEAD.size:
        return True
    (length,) = _LEN.unpack_from(data, pos)
    return _MIN_PAYLOAD <= length <= _MAX_PAYLOAD and pos + _HEAD.size + length > end


@dataclass
class LogScan:
    """What reading a log found.

    Attributes
    ----------
    events : list of Event
        Every valid record, in order, without duplicates (seqs strictly increase).
    damaged : list of (int, int)
        Byte ranges ``[start, end)`` that are no valid record and are followed by valid
        records, or are a complete record with a wrong checksum at the end.
    torn_at : int or None
        Where a final record cut short by a crash starts (expected after a crash).
    duplicates : int
        Records written twice (dropped; they would count twice).
    repaired : list of int
        Offsets of records whose length field was damaged but whose checksum
        still holds for the bytes up to the next valid record (kept).
    """

    events: list[Event] = field(default_factory=list)
    damaged: list[tuple[int, int]] = field(default_factory=list)
    torn_at: int | None = None
    duplicates: int = 0
    repaired: list[int] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.damaged and not self.duplicates and not self.repaired


def scan(data: bytes) -> LogScan:
    """Decode a log, skipping damaged bytes and resynchronising on the next valid record.

    A bad frame is skipped up to the next position where a frame has a plausible
    length, a matching CRC-32, decodes to exactly one event and has a higher seq than
    every record before it (a false match needs all four by chance). A frame that
    fails at the very end and is shorter than its length field is a torn tail.
    """
    out = LogScan()
    seen: dict[int, bytes] = {}
    last = -1
    pos, end = 0, len(data)

    def take(event: Event, payload: bytes, at: int, nxt: int) -> None:
        nonlocal last
        if event.seq <= last:
            if seen.get(event.seq) == payload:
                out.duplicates += 1
            else:
                out.damaged.append((at, nxt))
            return
        out.events.append(event)
        seen[event.seq] = payload
        last = event.seq

    while pos < end:
        hit = _frame_at(data, pos, end)
        if hit is not None:
            take(hit[0], hit[1], pos, hit[2])
            pos = hit[2]
            continue
        nxt = _resync(data, pos + 1, end, last)
        stop = end if nxt is None else nxt
        whole = _whole(data, pos, stop)
        if whole is not None and whole[0].seq > last:
            take(whole[0], whole[1], pos, stop)
            out.repaired.append(pos)
        elif nxt is None and _is_torn(data, pos, end):
            out.torn_at = pos
        else:
            out.damaged.append((pos, stop))
        if nxt is None:
            break
        pos = nxt
    return out


def _resync(data: bytes, pos: int, end: int, last: int) -> int | None:
    """The first position from ``pos`` where a valid frame with a seq above ``last`` starts."""
    unpack = _HEAD.unpack_from
    for j in range(pos, end - _HEAD.size - _MIN_PAYLOAD + 1):
        length, _ = unpack(data, j)
        if _MIN_PAYLOAD <= length <= _MAX_PAYLOAD and j + _HEAD.size + length <= end:
            hit = _frame_at(data, j, end)
            if hit is not None and hit[0].seq > last:
                return j
    return None


def read_events(data: bytes) -> tuple[list[Event], int]:
    """Decode every valid frame (skipping damage); returns (events, end of the last valid frame or torn tail)."""
    found = scan(data)
    return found.events, len(data) if found.torn_at is None else found.torn_at


class EventLog:
    """The log file of a project (opened for appending)."""

    def __init__(self, path: Path, *, sync: bool = True) -> None:
        self.path = Path(path)
        self.sync = sync
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.n_records = 0
        self.damage: list[str] = []
        if created and sync:  # the new file's name must survive a crash too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def read(self) -> list[Event]:
        """All valid records; cuts off a torn tail and sets aside damaged bytes.

        A torn tail (the last record cut short by a crash) is moved to
        ``<log>.torn`` silently: it was never acknowledged. Damaged bytes anywhere
        else are copied to ``<log>.damaged-<n>``, described in :attr:`damage`, and
        the log is rewritten with the valid records only (so the damage is reported
        once and later appends follow valid records).
        """
        with open(self.path, "rb") as fh:
            data = fh.read()
        found = scan(data)
        self.damage = []
        if not found.clean:
            for start, stop in found.damaged:
                side = self._keep_aside(data[start:stop])
                self.damage.append(
                    f"{self.path.name}: {stop - start} damaged bytes at offset {start} were skipped and "
                    f"kept in {side.name}; the records after them were recovered."
                )
            for at in found.repaired:
                self.damage.append(f"{self.path.name}: the record at offset {at} had a damaged length field; "
                                   "its checksum still held, so it was recovered whole.")
            if found.duplicates:
                self.damage.append(f"{self.path.name}: {found.duplicates} record(s) written twice were counted once.")
            if found.torn_at is not None:
                self._keep_torn(data[found.torn_at :])
            self._rewrite(b"".join(encode(e) for e in found.events))
        elif found.torn_at is not None:
            self._keep_torn(data[found.torn_at :])
            os.ftruncate(self._fd, found.torn_at)
            os.fsync(self._fd)
        self.n_records = len(found.events)
        return found.events

    def _keep_torn(self, data: bytes) -> None:
        with open(self.path.with_name(self.path.name + ".torn"), "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def _keep_aside(self, data: bytes) -> Path:
        n = 1
        while (side := self.path.with_name(f"{self.path.name}.damaged-{n}")).exists():
            n += 1
        with open(side, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return side

    def _rewrite(self, data: bytes) -> None:
        """Replace the log by ``data`` atomically (temporary file, fsync, rename, fsync the folder)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)

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

    def rotate(self, dest: Path) -> None:
        """Move the log to ``dest`` (replacing it) and start an empty one (after a snapshot holds its events).

        The events stay in ``dest`` until the next rotation, so the snapshot before
        the newest one plus ``dest`` plus the log rebuild everything if the newest
        snapshot is damaged.
        """
        os.fsync(self._fd)
        os.replace(self.path, dest)
        os.close(self._fd)
        self._fd = -1
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.n_records = 0

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
