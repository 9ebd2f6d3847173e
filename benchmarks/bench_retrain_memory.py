"""Does the server's memory grow with every retrain? The app's retrain path, many times in one process.

Run: nice -n 5 python3 benchmarks/bench_retrain_memory.py [--retrains 600] [--labels-per-retrain 2]

The digits demo in a folder store (the app's default backend), labelled by its true labels
through the store's queue (``next_item`` / ``submit``), retrained by
:class:`~superintendent_core.learning.training.RetrainScheduler` (``run``: what "Retrain now"
and the background retrains call) after every ``--labels-per-retrain`` labels. Printed: the
process's resident memory (RSS) every 20 retrains; its growth from retrain 20 to the last,
per retrain and against the RSS after the first retrain (the peer: what one open project
costs); and, from ``tracemalloc`` over the same span, where Python's own heap grew (the rest
of the RSS growth is native: NumPy, BLAS and the allocator's pages).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retrains", type=int, default=600)
    parser.add_argument("--labels-per-retrain", type=int, default=2)
    args = parser.parse_args()
    if args.retrains < 22:
        parser.error("--retrains must be at least 22 (growth is measured from retrain 20 on)")

    from sklearn.datasets import load_digits

    from superintendent_core.data.demo import digits_settings, load_digits_demo
    from superintendent_core.learning.training import RetrainScheduler
    from superintendent_core.store import open_store

    _, y = load_digits(return_X_y=True)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(os.path.join(folder, "project"), settings=digits_settings())
        ids = load_digits_demo(store)
        truth = dict(zip((int(i) for i in ids), (str(v) for v in y), strict=True))
        scheduler = RetrainScheduler(store, random_state=0)
        first = before = None
        snapshot = None
        labelled = 0
        start = time.perf_counter()
        for i in range(args.retrains):
            for _ in range(args.labels_per_retrain):
                item = store.next_item("bench")
                if item is None:
                    break
                store.submit(item, truth[int(item)], "bench")
                labelled += 1
            scheduler.run()
            if i % 20 == 0 or i == args.retrains - 1:
                gc.collect()
                rss = rss_mb()  # read before anything else allocates
                first = rss if first is None else first
                print(f"retrain {i:4d}  labels {labelled:5d}  RSS {rss:7.1f} MB", flush=True)
            if i == 20:
                before = rss
                tracemalloc.start()
                snapshot = tracemalloc.take_snapshot()
        gc.collect()
        after = rss_mb()
        top = tracemalloc.take_snapshot().compare_to(snapshot, "filename")
        tracemalloc.stop()
        span = args.retrains - 1 - 20
        growth = after - before
        print(f"\n{args.retrains} retrains in {time.perf_counter() - start:.0f} s")
        print(f"RSS after the first retrain: {first:.1f} MB; growth from retrain 20 to {args.retrains - 1}: "
              f"{growth:.1f} MB ({growth * 1024 / span:.0f} KB per retrain; {growth / first:.1%} of the first "
              "retrain's RSS)")
        heap = sum(s.size_diff for s in top) / 2**20
        print(f"Python heap (tracemalloc) over the same span: {heap:+.2f} MB; largest by file:")
        for stat in top[:6]:
            print(f"  {stat.size_diff / 1024:+8.0f} KB  {stat.traceback[0].filename}")
        store.close()


if __name__ == "__main__":
    main()
