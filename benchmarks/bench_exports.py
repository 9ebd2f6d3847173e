"""The standard label exports at 100,000 labelled images: time, file size and peak memory.

Run:

    nice -n 10 python3 benchmarks/bench_exports.py [--items 100000] [--keep DIR]

Builds a folder project of ``--items`` distinct PNG images (48×48 noise, about
7 KB each: nothing a parquet dictionary could share), labels every item in one
import, then runs each export (JSONL, image-folder zip, Hugging Face parquet) in
its own process, writing to a file on disk as :func:`prepare_export` does past
32 MiB. For each it reports the seconds, the file's size and the process's peak
resident memory (``ru_maxrss``) above what the same process held once the
project was open and its labels read, next to the file size: an export that held
its images in memory would need at least the file's size there. The first row,
"read only", reads every item's image once and writes nothing: the folder store's
own share (its memory-mapped items files count as resident once read, and it
keeps a few row groups per items file). The last column is the peak of the
anonymous resident memory (``RssAnon``: the heap, not the pages of mapped files
that the kernel can drop), sampled every 20 ms: what the export itself holds.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from superintendent_core.store import ItemBatch, ProjectSettings  # noqa: E402
from superintendent_core.store.folder import FolderStore  # noqa: E402

CLASSES = tuple(f"class-{k}" for k in range(10))
WRITERS = {"jsonl": "write_labels_jsonl", "imagefolder": "write_image_folder_zip", "hf_parquet": "write_hf_parquet"}


def pictures(start: int, stop: int, side: int = 48) -> list[bytes]:
    """Distinct PNGs: 64 noise pictures, each with its number written into its first pixels."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (64, side, side, 3), dtype=np.uint8)
    out = []
    for k in range(start, stop):
        pixels = noise[k % 64].copy()
        pixels[0, :4, 0] = np.frombuffer(int(k).to_bytes(4, "little"), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def build(path: Path, n: int) -> float:
    sizes = []
    with FolderStore(path, settings=ProjectSettings(name="bench", classes=CLASSES, kind="image")) as store:
        for start in range(0, n, 10_000):
            stop = min(n, start + 10_000)
            pics = pictures(start, stop)
            sizes += [len(p) for p in pics]
            store.add_items(ItemBatch(
                names=tuple(f"photo-{k:06d}.png" for k in range(start, stop)), kind="image",
                features=np.zeros((stop - start, 4), np.float32), payloads=pics,
            ))
        store.import_labels(np.arange(n), [CLASSES[k % 10] for k in range(n)], "bench")
    return float(np.mean(sizes)) / 1e3


def rss_anon_kb() -> int:
    """This process's anonymous resident memory (heap, not pages of memory-mapped files), in KiB."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssAnon:"))


class AnonPeak(threading.Thread):
    """The highest :func:`rss_anon_kb` seen, sampled every 20 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_anon_kb()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, rss_anon_kb())


def child(project: str, fmt: str, out: str) -> None:
    from superintendent_core.data import formats

    with FolderStore(project, create=False) as store:
        store.labels()  # what every export reads first (text only)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        anon_base = rss_anon_kb()
        sampler = AnonPeak()
        sampler.start()
        t0 = time.perf_counter()
        if fmt == "read only":  # the floor: read every labelled item's image once, write nothing
            items = sum(len(store.item(i).payload) > 0 for i in range(len(store)))
            Path(out).write_bytes(b"")
        else:
            items = getattr(formats, WRITERS[fmt])(store, out).items
        seconds = time.perf_counter() - t0
        sampler.done.set()
        sampler.join()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"items": items, "seconds": seconds, "base_mb": base / 1024, "peak_mb": peak / 1024,
                      "anon_mb": (max(sampler.peak, rss_anon_kb()) - anon_base) / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--keep", help="build (or reuse) the project in this folder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="bench-exports-"))
    project = tmp / "project"
    try:
        if not (project / "project.json").exists():
            t0 = time.perf_counter()
            kb = build(project, args.items)
            print(f"built {args.items:,} labelled PNGs of {kb:.1f} KB in {time.perf_counter() - t0:.0f} s")
        print(f"{'format':<12} {'items':>8} {'seconds':>8} {'file MB':>8} {'RSS at open MB':>15} "
              f"{'peak RSS above open':>20} {'peak heap above open':>21}")
        for fmt in ["read only", *WRITERS]:
            out = tmp / f"export-{fmt}"
            done = subprocess.run([sys.executable, __file__, "--child", str(project), fmt, str(out)],
                                  capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            size = os.path.getsize(out) / 1e6
            print(f"{fmt:<12} {r['items']:>8,} {r['seconds']:>8.1f} {size:>8.1f} {r['base_mb']:>15.0f} "
                  f"{r['peak_mb'] - r['base_mb']:>20.0f} {r['anon_mb']:>21.0f}")
            out.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
