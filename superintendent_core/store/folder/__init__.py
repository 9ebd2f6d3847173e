"""The default store: a project folder of parquet files plus an fsync'd event log.

Layout of a project folder::

    project.json            manifest: format version, settings, which files are current
    items-000001.parquet    one file per import batch (written once, never rewritten): ids, names, display
                            values, true labels, text features; row groups of ~1 MB, read one at a time
    items-000001.npy        that batch's numeric features (format 3), memory-mapped, never decoded whole
    labels.log              label/undo/skip events since the last snapshot (append-only)
    labels-000007.parquet   snapshot of every event up to a sequence number
    order-000005.parquet    the serving order set by the last retrain (its audit draws in the file's metadata)
    history-000009.parquet  retrain history
    suggestions-000010.parquet  the latest retrain's suggestion per unlabelled item (optional)
    .lock                   held (filelock) while a process has the project open

Labelling one item appends one record to ``labels.log`` and fsyncs it — the
pool is never rewritten. A label that records an audit draw carries it in that
same record, and snapshots keep the records in force (format 2; format-1
projects open unchanged and are written as format 2 from then on). The log is folded into a new snapshot on close, on
imports and every ``compact_every`` records. Every other file is written to a
temporary name, fsync'd, renamed into place and its directory fsync'd; the
manifest is written last, so a crash at any moment leaves either the old or the
new state. On open, log records already in the snapshot are ignored and a torn
final record is cut off.

Format 3 (numeric features in ``.npy`` files) cannot be read by earlier versions,
which refuse it as newer; projects of formats 1 and 2 open unchanged, their
batches keep their features in the parquet file (decoded once, within the
store's ``feature_cache_bytes``), and batches added to them are written as
format 3.

Modules: :mod:`.files` (names, format version, atomic writes), :mod:`.batches`
(one items file, read lazily; the bounded cache of decoded features), :mod:`.store` (:class:`FolderStore`: opening,
the manifest, compaction, settings), :mod:`.items` (the pool), :mod:`.labels`
(labelling and serving) and :mod:`.history` (retrain history).
"""

from __future__ import annotations

from .files import FORMAT, FORMAT_VERSION, LOG, MANIFEST, write_atomic
from .store import FolderStore

__all__ = ["FORMAT", "FORMAT_VERSION", "LOG", "MANIFEST", "FolderStore", "write_atomic"]
