"""The label ledger: every label, undo and skip event, and what is in force.

In-memory, columnar (numpy arrays that grow by doubling), no I/O. A backend
persists the events; replaying them through a fresh ledger rebuilds the same
state. Not thread-safe by itself: the owning store holds a lock.

Rules
-----
- One active label per (item, labeller): a new label by the same labeller
  supersedes the old one (``active`` becomes False).
- An item's *training label* is its most recent active label, whoever made it.
- ``undo(labeller)`` deactivates that labeller's most recent active label.
- Audit records (:mod:`.audit`): a label given with an audit slot to an item with
  no label in force records the draw (``audit``: item -> (label seq, q, support,
  order seq)); relabels keep it; an undo that leaves the item unlabelled voids it.
- Bulk labels (:meth:`add_bulk`): one label given to many items at once by one
  labeller carries a bulk number (``bulk`` column, 0 = not bulk); ``undo`` of a
  labeller whose most recent active label is a bulk label removes every label of
  that bulk still active (:meth:`undo_group`). Bulk labels never record an audit draw.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = ["EVENT_LABEL", "EVENT_LOST", "EVENT_RELABEL", "EVENT_SKIP", "EVENT_UNDO", "Event", "LabelLedger"]

# EVENT_LOST holds the place of an event whose record was damaged, so later seqs (and undo refs) stay valid.
EVENT_LABEL, EVENT_UNDO, EVENT_SKIP, EVENT_RELABEL, EVENT_LOST = 0, 1, 2, 3, 4
EVENT_NAMES = {EVENT_LABEL: "label", EVENT_UNDO: "undo", EVENT_SKIP: "skip", EVENT_RELABEL: "relabel",
               EVENT_LOST: "lost"}

_COLUMNS = {
    "type": np.int8,
    "item": np.int64,
    "labeller": np.int32,
    "label": np.int32,
    "time": np.float64,
    "seconds": np.float64,
    "active": np.bool_,
    "prev": np.int64,
    "ref": np.int64,
    "bulk": np.int32,
}


@dataclass(frozen=True)
class Event:
    """One event as persisted (strings, not codes)."""

    seq: int
    type: int
    item: int
    labeller: str
    label: str | None
    time: float
    seconds: float
    ref: int = -1
    #: (probability, support, seq) of the audit slot the item was served from (labels only), or None
    audit: tuple[float, int, int] | None = None


class _Interner:
    """str <-> int32 code."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}

    def code(self, name: str) -> int:
        code = self.codes.get(name)
        if code is None:
            code = self.codes[name] = len(self.names)
            self.names.append(name)
        return code

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        table = np.array(self.names + [None], dtype=object)
        return table[np.where(codes < 0, len(self.names), codes)]


class LabelLedger:
    """Label events of a pool of ``n_items`` items.

    Parameters
    ----------
    n_items : int
        Items in the pool.
    overlap : int, default=1
        Different labellers wanted per item before it is *done*.
    """

    def __init__(self, n_items: int = 0, *, overlap: int = 1) -> None:
        self.overlap = int(overlap)
        self.labels = _Interner()
        self.labellers = _Interner()
        self._n = 0
        self._cols = {k: np.empty(1024, dtype=t) for k, t in _COLUMNS.items()}
        self.head = np.full(n_items, -1, dtype=np.int64)  # latest label event per item
        self.n_active = np.zeros(n_items, dtype=np.int32)  # active labels per item
        self.train = np.full(n_items, -1, dtype=np.int64)  # training label event per item
        self.n_labelled = 0  # items with at least one active label
        self.label_counts: dict[int, int] = {}  # training label code -> items
        self.labeller_counts: dict[int, int] = {}  # labeller code -> active labels
        self._stacks: dict[int, array] = {}  # labeller code -> active label seqs (undo order)
        #: item -> (seq of the label that recorded it, probability, support, order seq): audit records in force
        self.audit: dict[int, tuple[int, float, int, int]] = {}
        #: the highest bulk number used (0: no bulk label ever)
        self.n_bulk = 0

    # ------------------------------------------------------------------ storage

    def __len__(self) -> int:
        return self._n

    @property
    def n_items(self) -> int:
        return len(self.head)

    def col(self, name: str) -> np.ndarray:
        """A view of one event column (length = number of events)."""
        return self._cols[name][: self._n]

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        cap = len(self._cols["type"])
        if need <= cap:
            return
        while cap < need:
            cap *= 2
        for k, v in self._cols.items():
            grown = np.empty(cap, dtype=v.dtype)
            grown[: self._n] = v[: self._n]
            self._cols[k] = grown

    def grow(self, n_new: int) -> None:
        """Add ``n_new`` unlabelled items."""
        self.head = np.concatenate([self.head, np.full(n_new, -1, dtype=np.int64)])
        self.n_active = np.concatenate([self.n_active, np.zeros(n_new, dtype=np.int32)])
        self.train = np.concatenate([self.train, np.full(n_new, -1, dtype=np.int64)])

    def _append(self, **values) -> int:
        self._reserve(1)
        seq = self._n
        for k, default in (("label", -1), ("seconds", np.nan), ("active", False), ("prev", -1), ("ref", -1),
                           ("bulk", 0)):
            values.setdefault(k, default)
        for k, v in values.items():
            self._cols[k][seq] = v
        self._n += 1
        return seq

    # ------------------------------------------------------------------ queries

    def is_done(self, item_id: int) -> bool:
        return bool(self.n_active[item_id] >= self.overlap)

    def active_label_of(self, item_id: int, labeller: str) -> int:
        """Seq of ``labeller``'s active label on the item, or -1."""
        code = self.labellers.codes.get(labeller)
        if code is None:
            return -1
        seq = int(self.head[item_id])
        lab, act, prev = self._cols["labeller"], self._cols["active"], self._cols["prev"]
        while seq >= 0:
            if act[seq] and lab[seq] == code:
                return seq
            seq = int(prev[seq])
        return -1

    def has_labelled(self, item_id: int, labeller: str) -> bool:
        return self.n_active[item_id] > 0 and self.active_label_of(item_id, labeller) >= 0

    def training_label_codes(self, ids: np.ndarray) -> np.ndarray:
        return self._cols["label"][self.train[ids]]

    def label_strings(self, codes: np.ndarray) -> np.ndarray:
        return self.labels.lookup(np.asarray(codes))

    def active_mask(self) -> np.ndarray:
        t = self.col("type")
        return self.col("active") & ((t == EVENT_LABEL) | (t == EVENT_RELABEL))

    def last_event_seq(self) -> int:
        return self._n - 1

    # ------------------------------------------------------------------ changes

    def _set_train(self, item_id: int, seq: int) -> None:
        old = int(self.train[item_id])
        if old >= 0:
            code = int(self._cols["label"][old])
            self.label_counts[code] -= 1
        self.train[item_id] = seq
        if seq >= 0:
            code = int(self._cols["label"][seq])
            self.label_counts[code] = self.label_counts.get(code, 0) + 1

    def _deactivate(self, seq: int) -> None:
        self._cols["active"][seq] = False
        code = int(self._cols["labeller"][seq])
        self.labeller_counts[code] -= 1

    def add_label(
        self,
        item_id: int,
        label: str,
        labeller: str,
        time: float,
        seconds: float | None = None,
        *,
        relabel: bool = False,
        audit: tuple[float, int, int] | None = None,
        bulk: int = 0,
    ) -> int:
        """Record a label; returns its seq. Supersedes ``labeller``'s previous label on the item.

        ``audit`` (probability, support, seq): the item was served from an audit slot; recorded
        when the item had no label in force (see :meth:`audit_for`).
        """
        item_id = int(item_id)
        first = self.n_active[item_id] == 0
        old = self.active_label_of(item_id, labeller)
        if old >= 0:
            self._deactivate(old)
        else:
            self.n_active[item_id] += 1
            self.n_labelled += int(self.n_active[item_id] == 1)
        lab = self.labellers.code(labeller)
        seq = self._append(
            type=EVENT_RELABEL if relabel else EVENT_LABEL,
            item=item_id,
            labeller=lab,
            label=self.labels.code(label),
            time=time,
            seconds=np.nan if seconds is None else float(seconds),
            active=True,
            prev=int(self.head[item_id]),
            bulk=int(bulk),
        )
        self.n_bulk = max(self.n_bulk, int(bulk))
        self.head[item_id] = seq
        self.labeller_counts[lab] = self.labeller_counts.get(lab, 0) + 1
        self._stacks.setdefault(lab, array("q")).append(seq)
        self._set_train(item_id, seq)
        if audit is not None and first:
            self.audit[item_id] = (seq, float(audit[0]), int(audit[1]), int(audit[2]))
        return seq

    def audit_for(self, item_id: int, slot: tuple[float, int, int] | None) -> tuple[float, int, int] | None:
        """``slot`` if a label on ``item_id`` now would record it (the item has no label in force), else None."""
        return slot if slot is not None and self.n_active[int(item_id)] == 0 else None

    def add_bulk(self, item_ids: Sequence[int], label: str, labeller: str, time: float) -> int:
        """Label ``item_ids`` with ``label`` by ``labeller`` as one new bulk; returns its number.

        The caller has checked that the labeller has no active label on these items.
        """
        bulk = self.n_bulk + 1
        for i in item_ids:
            self.add_label(int(i), label, labeller, time, None, bulk=bulk)
        return bulk

    def bulk_of(self, seq: int) -> int:
        """The bulk number of event ``seq`` (0: not a bulk label)."""
        return int(self._cols["bulk"][seq]) if 0 <= seq < self._n else 0

    def group_targets(self, labeller: str) -> list[int]:
        """What ``undo(labeller)`` removes as one step: seqs, newest first (empty: nothing to undo).

        One seq for an ordinary label; every active label of the bulk for a bulk label.
        """
        target = self.undo_target(labeller)
        if target < 0:
            return []
        bulk = self.bulk_of(target)
        if not bulk:
            return [target]
        seqs = np.flatnonzero((self.col("bulk") == bulk) & self.col("active"))
        return seqs[::-1].tolist()

    def undo_group(self, labeller: str, time: float) -> list[int]:
        """Undo ``labeller``'s most recent label, or their whole bulk label; returns the items, in label order."""
        items = [self.undo(labeller, time, target=seq) for seq in self.group_targets(labeller)]
        return [i for i in items[::-1] if i >= 0]

    def undo_target(self, labeller: str) -> int:
        """Seq of ``labeller``'s most recent active label, or -1 (pops stale entries)."""
        code = self.labellers.codes.get(labeller)
        stack = self._stacks.get(code) if code is not None else None
        act = self._cols["active"]
        while stack:
            if act[stack[-1]]:
                return int(stack[-1])
            stack.pop()
        return -1

    def undo(self, labeller: str, time: float, target: int | None = None) -> int:
        """Remove ``labeller``'s most recent active label; returns the item id, or -1."""
        target = self.undo_target(labeller) if target is None else int(target)
        if target < 0 or not self._cols["active"][target]:
            return -1
        stack = self._stacks.get(int(self._cols["labeller"][target]))
        if stack and stack[-1] == target:
            stack.pop()
        item_id = int(self._cols["item"][target])
        self._deactivate(target)
        self.n_active[item_id] -= 1
        self.n_labelled -= int(self.n_active[item_id] == 0)
        if self.n_active[item_id] == 0:
            self.audit.pop(item_id, None)
        if self.train[item_id] == target:
            self._set_train(item_id, self._latest_active(item_id))
        self._append(type=EVENT_UNDO, item=item_id, labeller=self.labellers.code(labeller), time=time, ref=target)
        return item_id

    def _latest_active(self, item_id: int) -> int:
        seq = int(self.head[item_id])
        act, prev = self._cols["active"], self._cols["prev"]
        while seq >= 0:
            if act[seq]:
                return seq
            seq = int(prev[seq])
        return -1

    def skip(self, item_id: int, labeller: str, time: float) -> int:
        return self._append(type=EVENT_SKIP, item=int(item_id), labeller=self.labellers.code(labeller), time=time)

    def lost(self) -> int:
        """Hold the place of an event whose record was lost to damage; returns its seq."""
        return self._append(type=EVENT_LOST, item=-1, labeller=-1, time=np.nan)

    def n_lost(self) -> int:
        return int(np.count_nonzero(self.col("type") == EVENT_LOST))

    def apply(self, event: Event) -> None:
        """Replay one persisted event (its seq must be the next one)."""
        if event.seq != self._n:
            raise ValueError(f"event {event.seq} replayed out of order (expected {self._n})")
        if event.type in (EVENT_LABEL, EVENT_RELABEL):
            self.add_label(event.item, event.label or "", event.labeller, event.time, event.seconds,
                           relabel=event.type == EVENT_RELABEL, audit=event.audit)
        elif event.type == EVENT_UNDO:
            if not 0 <= event.ref < self._n or not self._cols["active"][event.ref]:
                # Its target was lost to damage: keep the seq, change nothing.
                self._append(type=EVENT_UNDO, item=event.item, labeller=self.labellers.code(event.labeller),
                             time=event.time, ref=event.ref)
                return
            self.undo(event.labeller, event.time, target=event.ref)
        elif event.type == EVENT_SKIP:
            self.skip(event.item, event.labeller, event.time)
        else:
            raise ValueError(f"unknown event type {event.type}")

    # ------------------------------------------------------------------ bulk

    def bulk_labels(self, item_ids: np.ndarray, labels: Sequence[str], labeller: str, time: float) -> None:
        """Label items that have no label yet, vectorised (imports)."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        k = len(item_ids)
        if k == 0:
            return
        if (self.n_active[item_ids] > 0).any():
            raise ValueError("bulk_labels needs items without labels")
        codes = np.fromiter((self.labels.code(s) for s in labels), dtype=np.int32, count=k)
        lab = self.labellers.code(labeller)
        self._reserve(k)
        s = slice(self._n, self._n + k)
        seqs = np.arange(self._n, self._n + k, dtype=np.int64)
        c = self._cols
        c["type"][s] = EVENT_LABEL
        c["item"][s] = item_ids
        c["labeller"][s] = lab
        c["label"][s] = codes
        c["time"][s] = time
        c["seconds"][s] = np.nan
        c["active"][s] = True
        c["prev"][s] = -1
        c["ref"][s] = -1
        c["bulk"][s] = 0
        self._n += k
        self.head[item_ids] = seqs
        self.n_active[item_ids] = 1
        self.n_labelled += k
        self.train[item_ids] = seqs
        for code, count in zip(*np.unique(codes, return_counts=True), strict=True):
            self.label_counts[int(code)] = self.label_counts.get(int(code), 0) + int(count)
        self.labeller_counts[lab] = self.labeller_counts.get(lab, 0) + k
        self._stacks.setdefault(lab, array("q")).extend(seqs.tolist())

    def audit_rows(self) -> list[tuple[int, float, int, int, str, float]]:
        """Audit records in force: ``(item_id, probability, support, seq, labeller, time)`` by item id."""
        lab, t = self._cols["labeller"], self._cols["time"]
        names = self.labellers.names
        return [(i, q, sup, o, names[int(lab[s])], float(t[s]))
                for i, (s, q, sup, o) in sorted(self.audit.items())]

    def to_frame(self) -> pd.DataFrame:
        """Every event as a DataFrame (strings decoded): the snapshot format."""
        c = {k: self.col(k) for k in _COLUMNS}
        audit: dict[str, np.ndarray] = {}
        if self.audit:  # the records in force (NaN / -1 elsewhere); no columns when there is none
            audit = {"audit_q": np.full(self._n, np.nan), "audit_support": np.full(self._n, -1, dtype=np.int64),
                     "audit_seq": np.full(self._n, -1, dtype=np.int64)}
            rows = np.array([(s, sup, o) for s, _, sup, o in self.audit.values()], dtype=np.int64)
            audit["audit_q"][rows[:, 0]] = [q for _, q, _, _ in self.audit.values()]
            audit["audit_support"][rows[:, 0]] = rows[:, 1]
            audit["audit_seq"][rows[:, 0]] = rows[:, 2]
        return pd.DataFrame(
            {
                "seq": np.arange(self._n, dtype=np.int64),
                "type": c["type"],
                "item": c["item"],
                "labeller": pd.array(self.labellers.lookup(c["labeller"]), dtype="string"),
                "label": pd.array(self.labels.lookup(c["label"]), dtype="string"),
                "time": c["time"],
                "seconds": c["seconds"],
                "active": c["active"],
                "prev": c["prev"],
                "ref": c["ref"],
                **audit,
                **({"bulk": c["bulk"]} if self.n_bulk else {}),  # no column in projects without bulk labels
            }
        )

    @classmethod
    def from_arrays(
        cls,
        n_items: int,
        *,
        overlap: int,
        type: np.ndarray,
        item: np.ndarray,
        labeller_codes: np.ndarray,
        labeller_names: Sequence[str],
        label_codes: np.ndarray,
        label_names: Sequence[str],
        time: np.ndarray,
        seconds: np.ndarray,
        active: np.ndarray,
        prev: np.ndarray,
        ref: np.ndarray,
        audit_q: np.ndarray | None = None,
        audit_support: np.ndarray | None = None,
        audit_seq: np.ndarray | None = None,
        bulk: np.ndarray | None = None,
    ) -> LabelLedger:
        """Rebuild a ledger from a snapshot's columns, vectorised (``audit_*``: absent in format 1)."""
        self = cls(n_items, overlap=overlap)
        for name in labeller_names:
            self.labellers.code(name)
        for name in label_names:
            self.labels.code(name)
        n = len(type)
        self._reserve(n)
        values = dict(type=type, item=item, labeller=labeller_codes, label=label_codes, time=time,
                      seconds=seconds, active=active, prev=prev, ref=ref,
                      bulk=np.zeros(len(type), np.int32) if bulk is None else bulk)
        for k, v in values.items():
            self._cols[k][:n] = v
        self._n = n
        self.n_bulk = int(self._cols["bulk"][:n].max()) if n else 0
        is_label = (type == EVENT_LABEL) | (type == EVENT_RELABEL)
        seqs = np.arange(n, dtype=np.int64)
        lab_items = item[is_label]
        np.maximum.at(self.head, lab_items, seqs[is_label])
        act = is_label & active
        act_items = item[act]
        self.n_active = np.bincount(act_items, minlength=n_items).astype(np.int32)
        self.n_labelled = int(np.count_nonzero(self.n_active))
        np.maximum.at(self.train, act_items, seqs[act])
        trained = self.train[self.train >= 0]
        for code, count in zip(*np.unique(label_codes[trained], return_counts=True), strict=True):
            self.label_counts[int(code)] = int(count)
        act_seqs = seqs[act]
        act_labs = labeller_codes[act]
        for code in np.unique(act_labs):
            mine = act_seqs[act_labs == code]
            self.labeller_counts[int(code)] = len(mine)
            self._stacks[int(code)] = array("q", mine.tolist())
        if audit_q is not None and audit_support is not None and audit_seq is not None:
            rec = np.flatnonzero(~np.isnan(audit_q) & is_label)
            rec = rec[self.n_active[item[rec]] > 0]  # a snapshot holds only records in force; be safe
            for s, i, q, sup, o in zip(rec.tolist(), item[rec].tolist(), audit_q[rec].tolist(),
                                       audit_support[rec].tolist(), audit_seq[rec].tolist(), strict=True):
                self.audit[int(i)] = (int(s), float(q), int(sup), int(o))
        return self
