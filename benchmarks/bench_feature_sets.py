"""Feature sets at 70,000 items: reading them, and the app server's memory per browser session.

Run: nice -n 10 python3 benchmarks/bench_feature_sets.py [--items 70000] [--sessions 6] [--skip-browser]

1. A folder project of ``--items`` synthetic 28×28 grey images (``bench_app.build_project``), plus a
   feature set of 1280 random float32 numbers per item (the size of EfficientNet-Lite0's), written in
   chunks of 4,096 with ``write_feature_set`` and made the project's features. Printed: seconds to
   write it, its size on disk, and ``store.features(every id)`` time and the process's RSS growth,
   beside the same read of the project's 784 uint8 pixel features (the peer).
2. ``streamlit run app.py`` on that project (it retrains once it opens, so the model reads every
   feature row); Chromium opens 1 … ``--sessions`` sessions, each shows its first item and labels it.
   Printed: the server's RSS after each, and the growth per extra session [goal < 5 MB]. The set's
   rows are memory-mapped: every session reads the same pages, none copies them.
The load average is printed with the figures.

``--dtypes``: instead, float32 against float16 storage of the same set (``write_feature_set(dtype=)``),
in the same run: a project of ``--items`` items (8 import features) with the same 1280-d rows in two
sets; each set written (seconds, MB on disk), then read whole the way a retrain does
(``read_features``: 16,384 ids a call, float32 out) in a fresh process per read, alternating the
two sets ``--repeats`` times: seconds, the result's MB, the process's RSS growth and peak.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_app  # noqa: E402  (its project builder, server and browser helpers)


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _rss() -> float:
    return bench_app.rss_mb(os.getpid())


def add_feature_set(path: str, n: int, dim: int = 1280) -> tuple[float, float]:
    from superintendent_core.store import open_store

    rng = np.random.default_rng(1)
    t = time.perf_counter()
    with open_store(path) as store:
        for start in range(0, n, 4096):
            ids = np.arange(start, min(n, start + 4096))
            store.write_feature_set("efficientnet_lite0", ids, rng.standard_normal((len(ids), dim), dtype=np.float32))
        store.update_settings(feature_set="efficientnet_lite0", feature_extractor="efficientnet_lite0")
        # some labels, so the app retrains when it opens (its model then reads every row)
        for k in range(40):
            store.submit(store.next_item("seed"), str(k % 10), "seed")
    seconds = time.perf_counter() - t
    size = sum(f.stat().st_size for f in (Path(path) / "featuresets").rglob("*")) / 1024**2
    return seconds, size


def read_figures(path: str, n: int) -> None:
    from superintendent_core.store import open_store

    ids = np.arange(n)
    with open_store(path) as store:
        for label, feature_set in (("pixel features (784 uint8, the peer)", ""), ("feature set (1280 float32)",
                                                                                 "efficientnet_lite0")):
            store.update_settings(feature_set=feature_set)
            before = _rss()
            t = time.perf_counter()
            X = store.features(ids)
            seconds = time.perf_counter() - t
            print(f"  features(all {n:,} ids), {label}: {seconds:.2f} s, result {X.nbytes / 1024**2:.0f} MB, "
                  f"RSS +{_rss() - before:.0f} MB   [{_load()}]")
            del X
        store.update_settings(feature_set="efficientnet_lite0")


def session_figures(path: str, sessions: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    rss: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=bench_app.CHROMIUM, args=bench_app.CHROMIUM_ARGS)
        try:
            with bench_app.server(ROOT / "app.py", path) as (url, process):
                contexts = []
                for i in range(sessions):
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(f"{url}/?labeller=user{i}")
                    page.wait_for_selector(bench_app.IMAGE, timeout=120_000)
                    if i == 0:  # the first session's opening retrain reads every row; let it finish
                        settle = time.monotonic() + 120
                        last = -1.0
                        while time.monotonic() < settle:
                            time.sleep(5)
                            now = bench_app.rss_mb(process.pid)
                            if abs(now - last) < 2:
                                break
                            last = now
                    old = page.locator(bench_app.IMAGE).first.get_attribute("src")
                    page.keyboard.press("2")
                    bench_app.wait_new_image(page, old)
                    contexts.append(context)
                    time.sleep(1)
                    rss.append(bench_app.rss_mb(process.pid))
                for context in contexts:
                    context.close()
        finally:
            browser.close()
    return rss


def _read_child(path: str, name: str) -> None:
    """In a fresh process: read the whole pool of set ``name`` as a retrain does; print a JSON line."""
    import json
    import resource

    from superintendent_core.learning.training import read_features
    from superintendent_core.store.folder import FolderStore

    with FolderStore(path, create=False) as store:
        store.update_settings(feature_set=name)
        ids = np.arange(len(store), dtype=np.int64)
        before = _rss()
        t = time.perf_counter()
        X = read_features(store, ids)
        seconds = time.perf_counter() - t
        print(json.dumps({"s": seconds, "mb": X.nbytes / 2**20, "dtype": str(X.dtype), "rss_growth": _rss() - before,
                          "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def compare_dtypes(n: int, repeats: int) -> None:
    import json
    import statistics
    import subprocess

    from superintendent_core.store import ItemBatch, ProjectSettings
    from superintendent_core.store.folder import FolderStore

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "p")
        with FolderStore(path, settings=ProjectSettings(kind="table", classes=("a", "b"))) as store:
            store.add_items(ItemBatch(names=tuple(f"r{i}" for i in range(n)), kind="table",
                                      features=rng.standard_normal((n, 8), dtype=np.float32),
                                      payloads=[{"r": i} for i in range(n)]))
            for dtype in ("float32", "float16"):
                rng = np.random.default_rng(2)  # the same rows in both sets
                t = time.perf_counter()
                for start in range(0, n, 4096):
                    ids = np.arange(start, min(n, start + 4096))
                    rows = rng.normal(0.0, 1.5, (len(ids), 1280)).astype(np.float32)
                    store.write_feature_set(dtype, ids, rows, dtype=dtype)
                seconds = time.perf_counter() - t
                size = sum(f.stat().st_size for f in (Path(path) / "featuresets" / dtype).iterdir()) / 2**20
                print(f"  {dtype} set written in {seconds:.1f} s (chunks of 4,096), {size:.1f} MB on disk   [{_load()}]")
        runs: dict[str, list[dict]] = {"float32": [], "float16": []}
        for _ in range(repeats):
            for dtype in ("float16", "float32"):
                out = subprocess.run([sys.executable, __file__, "--read-child", path, dtype], capture_output=True,
                                     text=True, check=True)
                runs[dtype].append(json.loads(out.stdout.strip().splitlines()[-1]))
        for dtype, rs in runs.items():
            each = ", ".join(f"{r['s']:.2f}" for r in rs)
            print(f"  read_features(all {n:,} ids) from the {dtype} set: median {statistics.median(r['s'] for r in rs):.2f} s "
                  f"(runs {each}), result {rs[0]['mb']:.0f} MB {rs[0]['dtype']}, "
                  f"RSS growth median {statistics.median(r['rss_growth'] for r in rs):.0f} MB, "
                  f"peak RSS median {statistics.median(r['peak'] for r in rs):.0f} MB")
        ratio = statistics.median(r["s"] for r in runs["float16"]) / statistics.median(r["s"] for r in runs["float32"])
        print(f"  read time float16 / float32: {ratio:.2f}   [{_load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=70_000)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--dtypes", action="store_true", help="float32 against float16 storage of one set")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# bench_feature_sets — {args.items:,} items, {os.cpu_count()} CPUs, {_load()}")
    if args.dtypes:
        compare_dtypes(args.items, args.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SUPERINTENDENT_PROJECT_DIR"] = str(Path(tmp) / "default")
        big = bench_app.build_project(str(Path(tmp) / "big"), args.items)
        seconds, size = add_feature_set(big, args.items)
        print(f"1. feature set written in {seconds:.1f} s ({size:.0f} MB on disk, chunks of 4,096)   [{_load()}]")
        read_figures(big, args.items)
        if args.skip_browser or not os.path.exists(bench_app.CHROMIUM):
            return
        served = str(Path(tmp) / "served")
        shutil.copytree(big, served)
        rss = session_figures(served, args.sessions)
        deltas = np.diff(rss)
        print(f"2. server RSS after 1..{len(rss)} sessions (each showed its first item and labelled it): "
              + ", ".join(f"{r:.0f}" for r in rss) + " MB")
        print(f"   per extra session: median {np.median(deltas):.1f} MB, max {deltas.max():.1f} MB  [goal < 5 MB]"
              f"   [{_load()}]")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--read-child":
        _read_child(sys.argv[2], sys.argv[3])
    else:
        main()
