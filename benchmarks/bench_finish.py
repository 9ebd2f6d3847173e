"""Finish with the model at 1,000,000 items: time and peak memory of the whole-project download.

Run: ``nice -n 10 python benchmarks/bench_finish.py [--items 1000000] [--chunk 100000]``

Builds (once, in a temporary folder) a folder project of table items (4 numeric
columns, a small display dict, names ``row-0000000``; every 1,000th name starts
with ``=``, so the CSV neutraliser has work), labels 1 % of it with one bulk
import, and saves suggestions for the rest as a retrain would (random labels
and probabilities: the download does not care how good they are). Then, each in
a fresh Python process that opens the project cold (so its memory is not mixed
with the build's), it measures for CSV and for parquet:

* ``plan``: :func:`plan_finish` (labels in force, the saved suggestions, the history);
* ``write``: :func:`write_finish` into memory, chunk by chunk, and ``getvalue()``;
* peak RSS (sampled every 5 ms) while planning, above the process's RSS after
  opening the project (most of it is the store decoding its saved suggestions:
  one Python string per prediction), and while writing, above the RSS after
  planning (the chunk being encoded plus the file growing in memory), next to
  the size of the file it made.

``--chunk 0`` writes the whole table as one chunk (what a one-DataFrame export
would hold), for comparison.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from superintendent_core.store import ItemBatch, ProjectSettings  # noqa: E402
from superintendent_core.store.folder import FolderStore  # noqa: E402

CLASSES = tuple(f"class-{k}" for k in range(10))
BUILD_CHUNK = 100_000


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakRSS:
    """Samples this process's RSS in a thread; ``peak`` in MB."""

    def __init__(self, every: float = 0.005) -> None:
        self.every, self.peak, self._stop = every, rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.every)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def build(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    settings = ProjectSettings(name="finish-bench", kind="table", classes=CLASSES, feature_kind="table")
    with FolderStore(path, settings=settings) as store:
        for start in range(0, n, BUILD_CHUNK):
            m = min(BUILD_CHUNK, n - start)
            feats = pd.DataFrame(rng.normal(size=(m, 4)).astype(np.float32), columns=["a", "b", "c", "d"])
            names = tuple(("=" if (start + i) % 1000 == 0 else "") + f"row-{start + i:07d}" for i in range(m))
            payloads = [{"row": start + i} for i in range(m)]
            store.add_items(ItemBatch(names=names, kind="table", features=feats, payloads=payloads))
        labelled = np.sort(rng.choice(n, size=n // 100, replace=False))
        store.import_labels(labelled, [CLASSES[k % 10] for k in range(len(labelled))], "bench")
        pool = np.setdiff1d(np.arange(n), labelled)
        labels = np.array(CLASSES, dtype=object)[rng.integers(0, 10, size=len(pool))]
        entry = {"n_labels": int(len(labelled)), "score": 0.9, "metric": "accuracy", "model": "bench",
                 "seconds": 1.0, "estimate": 0.91, "estimate_low": 0.88, "estimate_high": 0.94,
                 "estimate_target": "unlabelled", "estimate_n": 120, "estimate_note": "bench"}
        store.save_suggestions(pool, labels.tolist(), rng.uniform(0.1, 1.0, size=len(pool)), entry)
        store.record_retrain(entry)


def measure(path: str, fmt: str, chunk: int) -> dict:
    """One format, in this (fresh) process."""
    from superintendent_core.data.finish import plan_finish, write_finish

    with FolderStore(path, create=False) as store:
        base = rss_mb()
        with PeakRSS() as planning:
            t0 = time.perf_counter()
            plan = plan_finish(store)
            t1 = time.perf_counter()
        after_plan = rss_mb()
        with PeakRSS() as writing:
            sink = io.BytesIO()
            write_finish(plan, sink, fmt, chunk=chunk or len(store))
            data = sink.getvalue()
            t2 = time.perf_counter()
        del sink
        return {"fmt": fmt, "chunk": chunk or len(store), "items": plan.n_items, "plan_s": t1 - t0,
                "write_s": t2 - t1, "plan_mb": planning.peak - base, "write_mb": writing.peak - after_plan,
                "peak_mb": max(planning.peak, writing.peak) - base, "open_mb": base, "file_mb": len(data) / 1e6,
                "counts": plan.summary.counts, "accuracy": plan.summary.accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, nargs="+", default=[100_000])
    parser.add_argument("--measure", nargs=3, metavar=("PATH", "FMT", "CHUNK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        path, fmt, chunk = args.measure
        print(json.dumps(measure(path, fmt, int(chunk))))
        return
    with tempfile.TemporaryDirectory(prefix="bench-finish-") as tmp:
        path = Path(tmp) / "project"
        t0 = time.perf_counter()
        build(path, args.items)
        print(f"built a folder project of {args.items:,} table items (1 % labelled) in "
              f"{time.perf_counter() - t0:.1f} s")
        print("peak RSS above the opened project's, in MB: while planning / while writing (above the plan's) / overall")
        print(f"{'format':<8} {'chunk':>9} {'plan s':>7} {'write s':>8} {'plan MB':>8} {'write MB':>9} "
              f"{'peak MB':>8} {'file MB':>8}")
        for chunk in args.chunk:
            for fmt in ("csv", "parquet"):
                out = subprocess.run([sys.executable, __file__, "--measure", str(path), fmt, str(chunk)],
                                     capture_output=True, text=True, check=True, env={**os.environ})
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{r['fmt']:<8} {r['chunk']:>9,} {r['plan_s']:>7.2f} {r['write_s']:>8.2f} "
                      f"{r['plan_mb']:>8.0f} {r['write_mb']:>9.0f} {r['peak_mb']:>8.0f} {r['file_mb']:>8.1f}")
        print(f"RSS of the opened project (not counted above): {r['open_mb']:.0f} MB")
        print(f"rows by source: {r['counts']}")
        print(f"summary: {r['accuracy']}")


if __name__ == "__main__":
    main()
