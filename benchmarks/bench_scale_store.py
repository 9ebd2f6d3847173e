"""A big table project in the folder store: build, open, first item, all features, peak memory.

Run:

    nice -n 10 python3 benchmarks/bench_scale_store.py [--sizes 10000,100000,1000000] [--peer /work/main]

For each size, a table of ``n`` rows (a short text column + 64 float32 feature
columns) is built into a new project, then the project is opened in a fresh
process: the first item (``next_item`` + ``item``), then every item's features
(what a cold start reads). Each step runs in its own subprocess; its peak
resident size (``VmHWM``) is printed next to its resident size before the step.
``--peer`` runs the same steps with another checkout's code (e.g. git main:
features in parquet) in the same run, so the two read the same machine load.

Issue 17's goal: build <= 6 s at 1M x 64 (``table_batch`` + ``add_items`` + close).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

WORKER = r'''
import json, os, sys, time
root, step, path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, root)
import numpy as np, pandas as pd
from superintendent_core.data.tables import table_batch
from superintendent_core.store import ProjectSettings
from superintendent_core.store.folder import FolderStore

def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
out = {}
if step == "build":
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.standard_normal((n, 64), dtype=np.float32), columns=[f"f{i}" for i in range(64)])
    df.insert(0, "title", [f"row {i}" for i in range(n)])
    out["rss_before"] = rss("VmRSS")
    t0 = time.perf_counter()
    batch = table_batch(df, display_columns=["title", "f0", "f1"], feature_columns=[f"f{i}" for i in range(64)])
    t1 = time.perf_counter()
    store = FolderStore(path, settings=ProjectSettings(classes=("a", "b")))
    store.add_items(batch)
    store.close()
    t2 = time.perf_counter()
    out.update(table_batch=t1 - t0, add_close=t2 - t1, build=t2 - t0)
else:
    out["rss_before"] = rss("VmRSS")
    t0 = time.perf_counter()
    store = FolderStore(path, create=False)
    t1 = time.perf_counter()
    i = store.next_item("bench")
    item = store.item(i)
    t2 = time.perf_counter()
    out.update(open=t1 - t0, first_item=t2 - t1, rss_first_item=rss("VmRSS"))
    if step == "features":
        t3 = time.perf_counter()
        X = store.features(np.arange(len(store)))
        out["features_all"] = time.perf_counter() - t3
        del X
    store.close()
out["peak"] = rss("VmHWM")
print(json.dumps(out))
'''


def run(root: str, step: str, path: Path, n: int) -> dict:
    done = subprocess.run([sys.executable, "-c", WORKER, root, step, str(path), str(n)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{step} failed with {root}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--peer", default=None, help="another checkout (e.g. /work/main) to run beside this one")
    args = ap.parse_args()
    roots = [("this", str(HERE))] + ([("peer", args.peer)] if args.peer else [])
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f} (1/5/15 min), "
          f"{os.cpu_count()} cores")
    print(f"{'n':>9} {'code':>5} | {'table_batch':>11} {'add+close':>9} {'build':>6} {'build peak+':>11} | "
          f"{'open':>6} {'1st item':>8} {'open peak':>9} | {'all feats':>9} {'feats peak':>10} | disk")
    for n in [int(s) for s in args.sizes.split(",")]:
        for label, root in roots:
            tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
            try:
                b = run(root, "build", tmp / "p", n)
                o = run(root, "open", tmp / "p", n)
                f = run(root, "features", tmp / "p", n)
                disk = sum(p.stat().st_size for p in (tmp / "p").iterdir() if p.is_file()) / 1e6
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            print(f"{n:>9} {label:>5} | {b['table_batch']:>10.2f}s {b['add_close']:>8.2f}s {b['build']:>5.2f}s "
                  f"{b['peak'] - b['rss_before']:>8.0f} MB | {o['open']:>5.2f}s {o['first_item']:>7.3f}s "
                  f"{o['peak']:>6.0f} MB | {f['features_all']:>8.2f}s {f['peak']:>7.0f} MB | {disk:.0f} MB",
                  flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
