"""Score a 1M x 64 pool single-process vs on a Dask LocalCluster of 2 workers (issue 17).

Run: nice -n 10 python3 benchmarks/bench_distributed.py [--items 1000000] [--workers 2] [--backend folder]

Builds a project (folder, or a SQLite file) of ``--items`` float32 vectors of 64
features, 3 classes, imported in batches of 100,000 (a folder project's items file is
one Parquet row group per batch: a task reads the row groups holding its ids, so a
single 1M batch would make every task read the whole file), labels 500, strategy
margin (``--strategy``; ``neighbourhood`` is the project default), then retrains it twice, each in a fresh process:

- ``single``: :func:`~superintendent_core.learning.training.run_retrain`;
- ``dask``: :func:`~superintendent_core.learning.distributed.run_retrain_distributed`
  on a ``LocalCluster(n_workers=W, threads_per_worker=1, processes=True)``.

Prints the wall time of each retrain (fit, predict / distributed scoring, total), the
ratio, the peak RSS of the process that retrained (the driver) and of each worker,
and whether the two orders, audit draws and suggestions are identical. The machine
has 2 cores shared with other work: the cluster will not be faster here; the point
is the driver's memory and that the order is the same.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

N_FEATURES = 64
CLASSES = ("a", "b", "c")
BATCH = 100_000


def _location(folder: Path, backend: str) -> str:
    return str(folder / "project") if backend == "folder" else f"sqlite:///{folder / 'project.db'}"


def build(folder: Path, n: int, backend: str, strategy: str) -> float:
    from superintendent_core.store import ItemBatch, ProjectSettings, open_store

    rng = np.random.default_rng(0)
    centres = rng.normal(scale=0.6, size=(len(CLASSES), N_FEATURES)).astype(np.float32)
    t = time.perf_counter()
    settings = ProjectSettings(classes=CLASSES, model="logistic_regression",
                               strategy=None if strategy == "neighbourhood" else strategy,
                               retrain_every=10, random_state=0)
    truth = []
    with open_store(_location(folder, backend), settings=settings) as store:
        for start in range(0, n, BATCH):
            m = min(BATCH, n - start)
            y = rng.integers(0, len(CLASSES), m)
            X = centres[y] + rng.normal(size=(m, N_FEATURES)).astype(np.float32)
            store.add_items(ItemBatch(names=tuple(f"i{i}" for i in range(start, start + m)), kind="image",
                                      features=X, image_shape=(8, 8), pixel_max=4.0))
            truth.append(y[: max(0, 500 - start)])
        y0 = np.concatenate(truth)[:500]
        for i in range(500):
            store.submit(i, CLASSES[int(y0[i])], "bench")
    return time.perf_counter() - t


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(folder: Path, backend: str, mode: str, workers: int, out: Path) -> None:
    """One retrain in this (fresh) process; writes figures and the results to ``out``."""
    from superintendent_core.learning.training import run_retrain
    from superintendent_core.store import open_store

    store = open_store(_location(folder, backend), create=False)
    base = _rss_mb()
    figures: dict = {}
    if mode == "single":
        t = time.perf_counter()
        snap = run_retrain(store, source="bench")
        figures["seconds"] = time.perf_counter() - t
    else:
        from distributed import Client, LocalCluster

        from superintendent_core.learning.distributed import DaskScorer, run_retrain_distributed

        t = time.perf_counter()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        figures["cluster_start"] = time.perf_counter() - t

        def rss() -> tuple[float, float]:
            import resource as r

            import psutil

            return psutil.Process().memory_info().rss / 2**20, r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024

        # Warm the workers (imports) so the figure is the scoring, not Python starting up.
        client.run(lambda: __import__("sklearn.linear_model") and __import__("superintendent_core.store.sql"))
        figures["worker_rss_before"] = [v[0] for v in client.run(rss).values()]
        t = time.perf_counter()
        snap = run_retrain_distributed(store, DaskScorer(client), source="bench")
        figures["seconds"] = time.perf_counter() - t
        figures["worker_peak_rss"] = [v[1] for v in client.run(rss).values()]
        figures["rows_read"] = float(snap.result.timings.get("rows_read", 0))
        client.close()
        cluster.close()
    r = snap.result
    figures.update({k: float(v) for k, v in r.timings.items()})
    figures["driver_base_rss"] = base
    figures["driver_peak_rss"] = _rss_mb()
    figures["n_pool"] = int(len(snap.pool_ids))
    out.write_text(json.dumps(figures))
    np.savez(out.with_suffix(".npz"), order=r.order, audit=np.asarray(r.audit.ids if r.audit else []),
             labels=snap.pool_labels.astype(str), probability=snap.pool_probability)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", choices=["folder", "sqlite"], default="folder")
    parser.add_argument("--strategy", choices=["margin", "entropy", "certainty", "random", "neighbourhood"],
                        default="margin", help="neighbourhood: the project default")
    parser.add_argument("--phase", choices=["single", "dask"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(Path(args.dir), args.backend, args.phase, args.workers, Path(args.out))
        return
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        folder = Path(tmp)
        seconds = build(folder, args.items, args.backend, args.strategy)
        print(f"built {args.items:,} x {N_FEATURES} float32 ({args.backend}) in {seconds:.1f} s; 500 labels")
        results = {}
        for mode in ("single", "dask"):
            out = folder / f"{mode}.json"
            subprocess.run([sys.executable, __file__, "--phase", mode, "--dir", str(folder), "--out", str(out),
                            "--backend", args.backend, "--workers", str(args.workers)], check=True, cwd=ROOT)
            results[mode] = json.loads(out.read_text())
        s, d = results["single"], results["dask"]
        print(f"pool {s['n_pool']:,} items, strategy {args.strategy}, load {os.getloadavg()[0]:.1f} (1 min) on "
              f"{os.cpu_count()} cores")
        print(f"single-process retrain: {s['seconds']:.2f} s (fit {s['fit']:.2f}, predict {s['predict']:.2f}, "
              f"ordering {s['ordering']:.2f}, cross-validation {s['scoring']:.2f}, the rest: reading the labels and pool, "
              f"writing order and suggestions {s['seconds'] - s['fit'] - s['predict'] - s['ordering'] - s['scoring']:.2f}); "
              f"process peak RSS {s['driver_peak_rss']:.0f} MB "
              f"(after opening the project {s['driver_base_rss']:.0f} MB)")
        print(f"dask, {args.workers} workers:     {d['seconds']:.2f} s (fit {d['fit']:.2f}, scoring "
              f"{d['distributed']:.2f} over {d['partitions']:.0f} tasks, worker time {d['worker_seconds']:.2f}, "
              f"ordering {d['ordering']:.2f}, cross-validation {d['scoring']:.2f}, the rest "
              f"{d['seconds'] - d['fit'] - d['predict'] - d['ordering'] - d['scoring']:.2f}); driver peak RSS {d['driver_peak_rss']:.0f} MB "
              f"(after opening {d['driver_base_rss']:.0f} MB); cluster start {d['cluster_start']:.1f} s")
        if d.get("rows_read"):
            print(f"neighbourhood: {d['rows_read']:,.0f} sampled rows read on the workers for the driver")
        print("workers: RSS before scoring " + ", ".join(f"{v:.0f}" for v in d["worker_rss_before"])
              + " MB; peak " + ", ".join(f"{v:.0f}" for v in d["worker_peak_rss"]) + " MB")
        print(f"ratio dask / single: {d['seconds'] / s['seconds']:.2f}x the time "
              f"({'slower' if d['seconds'] > s['seconds'] else 'faster'})")
        a, b = np.load(folder / "single.npz"), np.load(folder / "dask.npz")
        same = all(np.array_equal(a[k], b[k]) for k in ("order", "audit", "labels", "probability"))
        print(f"identical order, audit draws and suggestions: {same}")


if __name__ == "__main__":
    main()
