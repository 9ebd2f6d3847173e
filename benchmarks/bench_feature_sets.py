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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=70_000)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    print(f"# bench_feature_sets — {args.items:,} items, {os.cpu_count()} CPUs, {_load()}")
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
    main()
