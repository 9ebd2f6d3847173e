"""The project store's speed, with superintendent 0.6.0's DatabaseQueue (SQLite) side by side.

Run (the peer is installed only in the bench venv):

    /work/main/.bench-venv/bin/python benchmarks/bench_store.py [--quick]

Measures, on the parquet folder store (fsync on every label, as in production):
- label = ``next_item`` + durable ``submit``: p50 / p99 over many labels, at 1,797
  items (digits) and 1,000,000 items, at 0 % and 99 % labelled (the 99 % state is
  made by an import with existing labels: one bulk write, not 990k fsyncs);
- import of 70,000 × 784 uint8 items (seconds, MB on disk);
- ``set_order`` of 70,000 ids and of 1,000,000 ids; reopening the 1M-item project;
- every order carries 300 audit draws (issue 12: every 4th of its first 1,200 slots),
  so the labels above include the audit bookkeeping (a quarter of them write a record);
- the cost of one 60-byte ``os.write`` + ``fdatasync`` on this disk (the floor).
And on the peer, a SQLite file: ``enqueue`` of the same 70k items, ``pop`` +
``submit`` at the start and at 99 % labelled (set by one bulk SQL UPDATE), and one
``reorder`` of all 70k items.

Issue 3's goals: label p50 ≤ 5 ms, p99 ≤ 20 ms at 1M; 1M within 1.5× of 1,797; 99 %
within 1.5× of 0 %; import ≤ 3 s and ≤ 70 MB; set_order(70k) ≤ 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks.synthetic import synthetic_mnist  # noqa: E402
from superintendent_core.data import digits_batch  # noqa: E402
from superintendent_core.store import ItemBatch, ProjectSettings  # noqa: E402
from superintendent_core.store.audit import AuditDraws  # noqa: E402
from superintendent_core.store.folder import FolderStore  # noqa: E402

CLASSES = tuple(str(d) for d in range(10))


def draws(order: np.ndarray, k: int = 300) -> AuditDraws:
    """An order's audit draws as a retrain writes them: every 4th of its first 4k slots."""
    ids = np.asarray(order, dtype=np.int64)[: 4 * k : 4]
    return AuditDraws(ids, np.full(len(ids), 0.01), np.full(len(ids), len(order), dtype=np.int64))


def percentiles(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def label_loop(store: FolderStore, n: int) -> list[float]:
    times = []
    for k in range(n):
        t0 = time.perf_counter()
        i = store.next_item("bench")
        if i is None:
            break
        store.submit(i, CLASSES[k % 10], "bench", seconds=1.0)
        times.append(time.perf_counter() - t0)
    return times


def fsync_floor(folder: Path, n: int = 500) -> tuple[float, float]:
    fd = os.open(folder / "fsync-probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    times = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 60)
            os.fdatasync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        os.unlink(folder / "fsync-probe")
    return percentiles(times)


def pool_batch(n: int, labelled: float, d: int = 64, seed: int = 0) -> ItemBatch:
    """n small items (d uint8 features), the first ``labelled`` fraction with labels."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 17, size=(n, d), dtype=np.uint8)
    k = int(round(n * labelled))
    labels = np.empty(n, dtype=object)
    labels[:k] = np.array(CLASSES, dtype=object)[rng.integers(0, 10, k)]
    labels[k:] = None
    return ItemBatch(names=tuple(map(str, range(n))), kind="image", features=X, image_shape=(8, 8),
                     pixel_max=16, labels=labels if k else None)


def ours(root: Path, n_labels: int, big: int, rows: list[tuple[str, str]]) -> None:
    p50, p99 = fsync_floor(root)
    rows.append(("os.write + fdatasync of 60 bytes (the floor)", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"))

    figures: dict[str, tuple[float, float]] = {}
    cpu: dict[str, tuple[float, float]] = {}
    for name, n, frac in [("1,797 items, 0% labelled", 1797, 0.0),
                          ("1,797 items, 99% labelled", 1797, 0.99),
                          (f"{big:,} items, 0% labelled", big, 0.0),
                          (f"{big:,} items, 99% labelled", big, 0.99)]:
        path = root / f"pool-{n}-{frac}"
        with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
            t0 = time.perf_counter()
            if n == 1797:
                batch = digits_batch()
                if frac:
                    k = int(round(n * frac))
                    batch = ItemBatch(**{**batch.__dict__, "labels": list(batch.true_labels[:k]) + [None] * (n - k)})
                store.add_items(batch)
            else:
                store.add_items(pool_batch(n, frac))
            setup = time.perf_counter() - t0
            order = np.random.default_rng(1).permutation(n)  # a retrain's order
            t0 = time.perf_counter()
            store.set_order(order, audit=draws(order))
            rows.append((f"set_order of {n:,} ids with 300 audit draws ({name})",
                         f"{(time.perf_counter() - t0) * 1000:.1f} ms"))
            budget = min(n_labels, (len(store.unlabelled_ids()) - 1) // 2)
        # The store's own work (no fsync), then the durable path (fsync per label), same state.
        with FolderStore(path, create=False, sync=False) as store:
            cpu[name] = percentiles(label_loop(store, budget))
        floor = fsync_floor(root, 200)
        with FolderStore(path, create=False) as store:
            times = label_loop(store, budget)
        p50, p99 = percentiles(times)
        figures[name] = (p50, p99)
        rows.append((f"label (next_item + fsync'd submit), {name}",
                     f"p50 {p50:.2f} ms, p99 {p99:.2f} ms  (n={len(times)}; fsync alone now: "
                     f"p50 {floor[0]:.2f} ms; setup {setup:.1f} s)"))
        rows.append(("    the same without fsync (the store's own work)",
                     f"p50 {cpu[name][0]:.3f} ms, p99 {cpu[name][1]:.3f} ms"))
    big99 = root / f"pool-{big}-0.99"
    t0 = time.perf_counter()
    with FolderStore(big99, create=False) as store:
        opened = time.perf_counter() - t0
        n_lab = store.progress().labelled
    rows.append((f"reopen the {big:,}-item project ({n_lab:,} labels)", f"{opened:.2f} s"))
    s0, b0, b99 = "1,797 items, 0% labelled", f"{big:,} items, 0% labelled", f"{big:,} items, 99% labelled"
    for label, table in (("with fsync", figures), ("without fsync", cpu)):
        rows.append((f"  ratio p50 {label}: {big:,} / 1,797 (goal ≤ 1.5)", f"{table[b0][0] / table[s0][0]:.2f}"))
        rows.append((f"  ratio p50 {label}: 99% / 0% at {big:,} (goal ≤ 1.5)", f"{table[b99][0] / table[b0][0]:.2f}"))
    for n, frac in [(1797, 0.0), (1797, 0.99), (big, 0.0), (big, 0.99)]:
        shutil.rmtree(root / f"pool-{n}-{frac}", ignore_errors=True)

    photos(root, rows)

    X, y = synthetic_mnist(70_000)
    batch = ItemBatch(names=tuple(f"mnist-{i:05d}" for i in range(70_000)), kind="image", features=X,
                      image_shape=(28, 28), pixel_max=255, true_labels=[str(v) for v in y])
    path = root / "mnist"
    with FolderStore(path, settings=ProjectSettings(classes=CLASSES)) as store:
        t0 = time.perf_counter()
        store.add_items(batch)
        imported = time.perf_counter() - t0
        rows.append(("import 70,000 × 784 uint8 (add_items)", f"{imported:.2f} s, {du_mb(path):.1f} MB on disk"))
        order = np.random.default_rng(2).permutation(70_000)
        t0 = time.perf_counter()
        store.set_order(order, audit=draws(order))
        rows.append(("set_order of 70,000 ids with 300 audit draws", f"{(time.perf_counter() - t0) * 1000:.1f} ms"))
        times = label_loop(store, 300)
        p50, p99 = percentiles(times)
        rows.append(("label at 70,000 MNIST items, 0% labelled", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"))
        t0 = time.perf_counter()
        store.training_data()
        store.features(store.unlabelled_ids())
        rows.append(("training_data + features of the pool (70k)", f"{(time.perf_counter() - t0) * 1000:.0f} ms"))
    shutil.rmtree(path, ignore_errors=True)


def photos(root: Path, rows: list[tuple[str, str]], n: int = 2000) -> None:
    """A photo project: pictures stay on disk, one small row group read per item()."""
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=85)
    jpg = buf.getvalue()
    pics = [jpg[:-2] + i.to_bytes(2, "little") + jpg[-2:] for i in range(n)]
    batch = ItemBatch(names=tuple(f"p{i}.jpg" for i in range(n)), kind="image",
                      features=rng.random((n, 256)).astype(np.float32), payloads=pics)
    path = root / "photos"
    with FolderStore(path, settings=ProjectSettings(classes=("a", "b"))) as store:
        t0 = time.perf_counter()
        store.add_items(batch)
        rows.append((f"import {n:,} photos of {len(jpg) / 1e3:.0f} KB (pictures given)",
                     f"{time.perf_counter() - t0:.2f} s, {du_mb(path):.0f} MB on disk"))
    with FolderStore(path, create=False) as store:
        times = []
        for i in rng.permutation(n)[:500]:
            t0 = time.perf_counter()
            store.item(int(i))
            times.append(time.perf_counter() - t0)
        p50, p99 = percentiles(times)
        rows.append(("item() of a random photo, after reopening", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"))
    shutil.rmtree(path, ignore_errors=True)


def peer(root: Path, n: int, n_start: int, n_end: int, rows: list[tuple[str, str]]) -> None:
    try:
        from superintendent.db_queue import DatabaseQueue, SuperintendentData
    except ImportError:
        rows.append(("superintendent 0.6.0", "not installed here: run with /work/main/.bench-venv/bin/python"))
        return
    import sqlalchemy as sa

    db = root / "peer.db"
    q = DatabaseQueue(f"sqlite:///{db}")
    X, _ = synthetic_mnist(n)
    t0 = time.perf_counter()
    q.enqueue(X)
    rows.append((f"peer: enqueue {n:,} × 784 (DatabaseQueue, SQLite)",
                 f"{time.perf_counter() - t0:.1f} s, {db.stat().st_size / 1e6:.0f} MB on disk"))

    def pop_submit(k: int) -> list[float]:
        times = []
        for j in range(k):
            t0 = time.perf_counter()
            id_, _ = q.pop()
            q.submit(id_, CLASSES[j % 10])
            times.append(time.perf_counter() - t0)
        return times

    p50, p99 = percentiles(pop_submit(n_start))
    rows.append((f"peer: pop + submit, {n:,} items, 0% labelled", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (n={n_start})"))
    k = int(n * 0.99)
    with q.engine.begin() as conn:
        conn.execute(
            sa.update(SuperintendentData.__table__)
            .where(SuperintendentData.__table__.c.id <= k)
            .values(output='"0"', completed_at=sa.func.current_timestamp())
        )
    p50, p99 = percentiles(pop_submit(n_end))
    rows.append((f"peer: pop + submit, {n:,} items, 99% labelled", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (n={n_end})"))
    order = np.random.default_rng(2).permutation(n)
    t0 = time.perf_counter()
    q.reorder({int(i) + 1: int(r) for r, i in enumerate(order)})
    rows.append((f"peer: reorder {n:,} items", f"{time.perf_counter() - t0:.1f} s"))
    q.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--dir", default=None, help="where to write (default: a temp dir on this disk)")
    args = parser.parse_args()
    big = 100_000 if args.quick else 1_000_000
    root = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.dir))
    rows: list[tuple[str, str]] = []
    try:
        ours(root, 300 if args.quick else 2000, big, rows)
        if not args.no_peer:
            peer(root, 7_000 if args.quick else 70_000, 50 if args.quick else 200, 20 if args.quick else 50, rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"\nbench_store.py — folder store vs superintendent 0.6.0 DatabaseQueue (SQLite); "
          f"python {sys.version.split()[0]}, disk {args.dir or tempfile.gettempdir()}")
    print("-" * (width + 40))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
