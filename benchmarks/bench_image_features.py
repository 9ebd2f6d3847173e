"""Speed and memory of the pretrained image features (EfficientNet-Lite0 in onnxruntime, no torch).

Run: nice -n 5 python3 benchmarks/bench_image_features.py [--n 2000]

Photos: ``--n`` camera-like JPEGs (800×600, quality 90) made by
``photo_standins.jpeg_photos`` from crops of the photos that ship with
scikit-image and scikit-learn, written to a temporary folder.

Each measurement runs in a fresh Python process (so its peak RSS is its own):

- ``build``: seconds from nothing to a ready session (read and check the
  checkpoint, write the ONNX graph, create the onnxruntime session), and the
  process's RSS after it;
- ``network``: ms per image of the network alone on preprocessed input, batch 1
  and batch 16, with 1 and 2 onnxruntime threads;
- ``end to end``: ms per image of ``image_features(paths)`` (read the JPEG,
  decode, orient, crop, resize, run; the network one image at a time, its
  default) over 200 photos, 1 and 2 threads;
- ``peak``: peak RSS (``VmHWM``) of a process that featurises all ``--n``
  photos with ``image_features(paths)``, and of one that imports them with
  ``images_from_folder(..., featurize="efficientnet_lite0")`` (which also keeps
  each photo's display bytes, as an import does).

The app path (``--child app``, ``--app-only`` runs only it): ``images_from_folder(featurize="pixels")``
into a new folder project (labelling can start: "ready"), then the background job
(:class:`superintendent_core.service.featurize.FeaturizeJob`) computes EfficientNet-Lite0 features into the
project's feature set and switches to it. Reported: seconds to ready, seconds and ms/image of the job, the
app process's peak RSS and the worker process's (polled every 0.2 s), and a "click" measured during the job in
the app process (``next_item`` + ``submit`` + 5 ms of pure-Python work, a stand-in for a page rerun): median and
90th percentile with no job, with the job in a thread of the app process, and in a niced worker process.

Goals (issue 15): at most 60 ms per image, at most 800 MB peak for 2,000 photos.
The load average (other programs on the machine) is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    """This process's own peak RSS (VmHWM). ``ru_maxrss`` would not do: a child started by fork + exec
    starts it at the parent's RSS (here the parent that wrote the photos)."""
    return _status_mb("VmHWM")


def child(mode: str, folder: str, threads: int) -> dict:
    import numpy as np

    start = time.perf_counter()
    from superintendent_core.features import EfficientNetLite0, image_features

    extractor = EfficientNetLite0(threads=threads)
    if mode == "build":
        extractor._built()
        return {"seconds": time.perf_counter() - start, "rss_mb": _rss_mb(), "peak_mb": _peak_mb(),
                "build_seconds": extractor.build_seconds}
    paths = sorted(str(p) for p in Path(folder).glob("*.jpg"))
    extractor._built()
    if mode == "network":
        from PIL import Image

        from superintendent_core.features.efficientnet import preprocess

        x = preprocess(Image.open(paths[0]))
        out = {}
        for batch in (1, 16):
            data = np.stack([x] * batch)
            extractor.run(data)  # warm-up
            reps = max(3, 48 // batch)
            t = time.perf_counter()
            for _ in range(reps):
                extractor.run(data)
            out[f"batch{batch}_ms"] = 1000 * (time.perf_counter() - t) / (reps * batch)
        return out
    if mode == "end_to_end":
        subset = paths[:200]
        image_features(subset[:16], threads=threads)  # warm-up
        t = time.perf_counter()
        image_features(subset, threads=threads)
        return {"ms": 1000 * (time.perf_counter() - t) / len(subset)}
    if mode == "peak_features":
        t = time.perf_counter()
        X = image_features(paths, threads=threads)
        return {"n": len(X), "seconds": time.perf_counter() - t, "peak_mb": _peak_mb(), "shape": list(X.shape)}
    if mode == "peak_import":
        from superintendent_core.data.images import images_from_folder

        t = time.perf_counter()
        result = images_from_folder(folder, featurize="efficientnet_lite0")
        return {"n": len(result.batch.names), "seconds": time.perf_counter() - t, "peak_mb": _peak_mb(),
                "shape": list(result.batch.features.shape)}
    if mode.startswith("app"):
        return app_child(folder, job_mode=mode.split(":", 1)[1] if ":" in mode else "process")
    raise ValueError(mode)


def _click(store, k: int) -> float:
    t = time.perf_counter()
    item = store.next_item("bench")
    if item is not None:
        store.submit(item, "a" if k % 2 else "b", "bench")
    end = time.perf_counter() + 0.005
    x = 0
    while time.perf_counter() < end:  # a page rerun's Python work, roughly
        x += 1
    return 1000 * (time.perf_counter() - t)


def app_child(folder: str, job_mode: str) -> dict:
    import threading

    from superintendent_core.data.images import images_from_folder
    from superintendent_core.service.featurize import (
        IMPORT_FEATURES_KEY,
        FeaturizeJob,
        extractor_for_batch,
    )
    from superintendent_core.service.project import create_project
    from superintendent_core.store import ProjectSettings, open_store

    t = time.perf_counter()
    result = images_from_folder(folder, featurize="pixels")
    settings = ProjectSettings(name="photos", kind="image", classes=("a", "b"),
                               feature_extractor=extractor_for_batch(result.batch),
                               extra=((IMPORT_FEATURES_KEY, "pixels"),))
    project = Path(tempfile.mkdtemp()) / "p"
    create_project(project, settings, result.batch)
    n = len(result.batch.names)
    del result
    ready = time.perf_counter() - t
    store = open_store(str(project))
    idle = [_click(store, k) for k in range(40)]
    if job_mode == "none":
        return {"n": n, "ready_s": ready, "idle_click_ms": idle, "peak_mb": _peak_mb()}
    job = FeaturizeJob(store, settings.feature_extractor, mode=job_mode)
    worker_peak = [0.0]

    def poll() -> None:
        while job.running or not worker_peak[0]:
            pool = job._pool
            if pool is not None:
                try:
                    with open(f"/proc/{pool.process.pid}/status") as fh:
                        for line in fh:
                            if line.startswith("VmHWM:"):
                                worker_peak[0] = max(worker_peak[0], int(line.split()[1]) / 1024)
                except OSError:
                    pass
            if not job.running and job._thread is not None:
                break
            time.sleep(0.2)

    t = time.perf_counter()
    job.start()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    busy = []
    k = 0
    while job.running:
        busy.append(_click(store, k))
        k += 1
        time.sleep(0.25)  # a labeller's pace, roughly
    job.join()
    seconds = time.perf_counter() - t
    status = job.status()
    store.close()
    return {"n": n, "ready_s": ready, "job_s": seconds, "job_ms_per_image": 1000 * seconds / n,
            "complete": status.complete, "in_use": status.in_use, "failed": len(status.failed),
            "error": status.error, "peak_mb": _peak_mb(), "worker_peak_mb": worker_peak[0],
            "idle_click_ms": idle, "busy_click_ms": busy, "clicks": len(busy)}


def _run_child(mode: str, folder: str, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--folder", folder, "--threads", str(threads)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--child")
    parser.add_argument("--folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--app-only", action="store_true", help="only the app path (import + background job)")
    parser.add_argument("--job-modes", default="process,thread", help="where the app path's job runs")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder, args.threads)))
        return
    import photo_standins

    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        for k, raw in enumerate(photo_standins.jpeg_photos(args.n)):
            Path(folder, f"{k:05d}.jpg").write_bytes(raw)
        print(f"{args.n} JPEG photos 800×600 written in {time.perf_counter() - t:.0f} s; cpus {os.cpu_count()}; {_load()}")
        if args.app_only:
            app_figures(folder, args.job_modes.split(","))
            return
        for threads in (1, 2):
            b = _run_child("build", folder, threads)
            print(f"build (threads={threads}): {b['seconds']:.2f} s from import to a ready session "
                  f"({b['build_seconds']:.2f} s of it reading the checkpoint and building the session); "
                  f"RSS then {b['rss_mb']:.0f} MB, peak {b['peak_mb']:.0f} MB   [{_load()}]")
        for threads in (1, 2):
            n = _run_child("network", folder, threads)
            e = _run_child("end_to_end", folder, threads)
            print(f"threads={threads}: network alone {n['batch1_ms']:.1f} ms/image at batch 1, "
                  f"{n['batch16_ms']:.1f} at batch 16; end to end from JPEG files {e['ms']:.1f} ms/image   [{_load()}]")
        p = _run_child("peak_features", folder, 1)
        print(f"image_features on {p['n']} photos (threads=1, the default): {p['seconds']:.0f} s "
              f"({1000 * p['seconds'] / p['n']:.1f} ms/image), peak RSS {p['peak_mb']:.0f} MB   [{_load()}]")
        p = _run_child("peak_import", folder, 1)
        print(f"images_from_folder(featurize='efficientnet_lite0') on {p['n']} photos: {p['seconds']:.0f} s "
              f"({1000 * p['seconds'] / p['n']:.1f} ms/image, one image per call), peak RSS {p['peak_mb']:.0f} MB"
              f"   [{_load()}]")


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def app_figures(folder: str, job_modes: list[str]) -> None:
    for job_mode in job_modes:
        a = _run_child(f"app:{job_mode}", folder, 1)
        print(f"app path, job in a {job_mode}: {a['n']} photos imported with pixel features, labelling ready after "
              f"{a['ready_s']:.1f} s; the background job then computed EfficientNet-Lite0 features in "
              f"{a['job_s']:.0f} s ({a['job_ms_per_image']:.1f} ms/image; complete {a['complete']}, in use "
              f"{a['in_use']}, failed {a['failed']}, error {a['error']}); peak RSS: app process "
              f"{a['peak_mb']:.0f} MB, worker {a['worker_peak_mb']:.0f} MB   [{_load()}]")
        print(f"  click (next_item + submit + 5 ms of Python): no job median {_pct(a['idle_click_ms'], 50):.1f} ms "
              f"p90 {_pct(a['idle_click_ms'], 90):.1f}; during the job ({a['clicks']} clicks) median "
              f"{_pct(a['busy_click_ms'], 50):.1f} ms p90 {_pct(a['busy_click_ms'], 90):.1f}   ratio of medians "
              f"{_pct(a['busy_click_ms'], 50) / _pct(a['idle_click_ms'], 50):.2f}")


if __name__ == "__main__":
    main()
