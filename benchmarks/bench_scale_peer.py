"""Issue 17's scale curve against the peer: the folder store beside superintendent 0.6.0's DatabaseQueue (SQLite).

Run (the peer is installed only in the bench venv; plain ``python3`` measures ours and says so for the peer):

    nice -n 19 /work/main/.bench-venv/bin/python benchmarks/bench_scale_peer.py [--sizes 10k,100k,1m]
                                                    [--labels 200] [--cap 120] [--workdir DIR]

For each size, ``n`` table items × 64 float32 features (``bench_scale.synthetic_features``: the same
numbers as ``bench_scale.py``), and for each system, fresh processes, so each one's peak RSS
(``VmHWM``) is its own:

1. **build**: ours ``table_batch`` + ``create_project`` of the table (a title column + the 64
   feature columns, as ``bench_scale.py`` builds it); the peer ``DatabaseQueue("sqlite:///file")`` +
   ``enqueue(X)`` of the float32 matrix (its fastest input: a DataFrame goes through ``iterrows``).
2. **open and serve**: reopen (``open_project`` / a new ``DatabaseQueue`` on the file); the first
   item (``next_item`` + ``item`` / ``pop``); ``--labels`` labels, each serve + submit (ours:
   ``next_item`` + ``item`` + fsync'd ``submit``; the peer: ``pop`` + ``submit``, one SQLite
   commit each), median and p90; a new full order of the unlabelled items (ours ``set_order``
   with 300 audit draws, as a retrain writes it; the peer ``reorder({id: rank})``, what its
   ``retrain`` calls).
3. **the pool's features**, what a retrain reads before it predicts, in a third fresh process:
   ours ``store.features(store.unlabelled_ids())``; the peer ``list_uncompleted()`` (every
   unlabelled row's JSON decoded into an array, then stacked).

Each step may take at most ``--cap`` seconds (default 120): past that its process is killed and the
step reads "did not finish in 120 s". When the peer's ``enqueue`` does not finish, its file is made
by one bulk ``INSERT`` of the same serialised rows (SQLAlchemy core, no ORM objects), printed as
such, so that the open and serve steps can still run on it. Beside every figure: the 1-minute load
average when it was taken; every row ends with the ratio ours / peer from the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from benchmarks.bench_scale import parse_size, synthetic_features  # noqa: E402

D = 64
CLASSES = tuple(str(i) for i in range(10))
SERVE_STEPS = ("reopen", "first", "label", "order")
NO_PEER = "peer not installed here: run with .bench-venv/bin/python"


# --------------------------------------------------------------------------- child processes


def vm(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def emit(step: str, **values) -> None:
    print(json.dumps({"step": step, "load": os.getloadavg()[0], "hwm": vm("VmHWM"), **values}), flush=True)


def du_mb(path: Path) -> float:
    """A project folder's files, or a SQLite file (+ its WAL if any; a rollback journal is transient)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.is_file()) / 1e6


def hwm_of(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def ours_build(path: str, n: int) -> None:
    import pandas  # noqa: F401  (imported before "ready", as child_build's own imports)

    from benchmarks.bench_scale import child_build
    from superintendent_core.data.tables import table_batch  # noqa: F401
    from superintendent_core.service import create_project  # noqa: F401

    emit("ready", base_mb=vm("VmRSS"))
    out = child_build(path, n, D)  # synthetic_features + table_batch + create_project
    emit("build", s=out["batch_s"] + out["create_s"], detail=f"table_batch {out['batch_s']:.2f} + "
         f"create_project {out['create_s']:.2f} s")


def peer_build(path: str, n: int, bulk: bool) -> None:
    from superintendent.db_queue import DatabaseQueue, SuperintendentData
    from superintendent.serialization import data_dumps

    X = synthetic_features(n, D)
    emit("ready", base_mb=vm("VmRSS"))
    start = time.perf_counter()
    q = DatabaseQueue(f"sqlite:///{path}")
    if not bulk:
        q.enqueue(X)
    else:  # the same rows as enqueue writes them, without an ORM object per row
        now = dt.datetime.now()
        table = SuperintendentData.__table__
        with q.engine.begin() as conn:
            for lo in range(0, n, 50_000):
                conn.execute(table.insert(), [
                    {"input": data_dumps(x), "output": None, "inserted_at": now, "priority": None,
                     "popped_at": None, "completed_at": None, "worker_id": None} for x in X[lo:lo + 50_000]])
    q.engine.dispose()
    emit("bulk" if bulk else "build", s=time.perf_counter() - start)


def ours_serve(path: str, n: int, labels: int, steps: list[str]) -> None:
    import pandas  # noqa: F401  (the store's libraries, imported lazily on the app's path: not timed here)
    import pyarrow.parquet  # noqa: F401

    from benchmarks.bench_store import draws
    from superintendent_core.service import open_project

    emit("ready", base_mb=vm("VmRSS"))
    start = time.perf_counter()
    with open_project(path) as project:
        store = project.store
        emit("reopen", s=time.perf_counter() - start)
        if "first" in steps:
            start = time.perf_counter()
            store.item(store.next_item("bench"))
            emit("first", s=time.perf_counter() - start)
        if "label" in steps:
            times = []
            for k in range(labels):
                start = time.perf_counter()
                i = store.next_item("bench")
                store.item(i)
                store.submit(i, CLASSES[k % 10], "bench", seconds=1.0)
                times.append(time.perf_counter() - start)
            emit("label", times=times)
        if "order" in steps:
            order = np.random.default_rng(2).permutation(store.unlabelled_ids())
            audit = draws(order)
            start = time.perf_counter()
            store.set_order(order, audit=audit)
            emit("order", s=time.perf_counter() - start, ids=len(order))


def peer_serve(path: str, n: int, labels: int, steps: list[str]) -> None:
    from superintendent.db_queue import DatabaseQueue

    emit("ready", base_mb=vm("VmRSS"))
    start = time.perf_counter()
    q = DatabaseQueue(f"sqlite:///{path}")
    emit("reopen", s=time.perf_counter() - start)
    if "first" in steps:
        start = time.perf_counter()
        q.pop()
        emit("first", s=time.perf_counter() - start)
    done = []
    if "label" in steps:
        times = []
        for k in range(labels):
            start = time.perf_counter()
            id_, _ = q.pop()
            q.submit(id_, CLASSES[k % 10])
            times.append(time.perf_counter() - start)
            done.append(id_)
        emit("label", times=times)
    if "order" in steps:
        # the unlabelled ids as the peer's retrain passes them (ids count from 1); an id → rank mapping
        pool = np.setdiff1d(np.arange(1, n + 1), np.asarray(done, dtype=np.int64))
        order = np.random.default_rng(2).permutation(pool)
        priorities = {int(i): r for r, i in enumerate(order)}
        start = time.perf_counter()
        q.reorder(priorities)
        emit("order", s=time.perf_counter() - start, ids=len(order))
    q.engine.dispose()


def ours_pool(path: str) -> None:
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from superintendent_core.service import open_project

    emit("ready", base_mb=vm("VmRSS"))
    with open_project(path) as project:
        start = time.perf_counter()
        pool = project.store.unlabelled_ids()
        X = project.store.features(pool)
        emit("pool", s=time.perf_counter() - start, ids=len(pool), shape=list(np.shape(X)))


def peer_pool(path: str) -> None:
    from superintendent.db_queue import DatabaseQueue

    emit("ready", base_mb=vm("VmRSS"))
    q = DatabaseQueue(f"sqlite:///{path}")
    start = time.perf_counter()
    ids, X = q.list_uncompleted()  # what its retrain reads before predict_proba
    emit("pool", s=time.perf_counter() - start, ids=len(ids), shape=list(np.shape(X)))
    q.engine.dispose()


def child(system: str, phase: str, path: str, n: int, labels: int, steps: list[str]) -> None:
    if phase == "pool":
        (ours_pool if system == "ours" else peer_pool)(path)
    elif phase == "serve":
        (ours_serve if system == "ours" else peer_serve)(path, n, labels, steps)
    elif system == "ours":
        ours_build(path, n)
    else:
        peer_build(path, n, bulk=phase == "bulk")
    emit("end", peak_mb=vm("VmHWM"))


# --------------------------------------------------------------------------- the parent


def run_phase(system: str, phase: str, path: Path, n: int, labels: int, steps: list[str],
              cap: float) -> dict:
    """One fresh child; its JSON lines by step. A step past ``cap`` s: child killed, ``{step: "cap"}``."""
    expected = ["ready"] + ({"serve": steps}.get(phase) or [phase]) + ["end"]
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, "--child", system, phase, str(path), str(n), str(labels),
                                 ",".join(steps)], stdout=subprocess.PIPE, stderr=err, text=True)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        out: dict = {}
        try:
            for step in expected:
                # the child's start and imports are not a step: give "ready" the cap too
                if not sel.select(timeout=cap):
                    out["killed_peak_mb"] = hwm_of(proc.pid)  # its peak until now
                    proc.kill()
                    out[expected[1] if step == "ready" else step] = "cap"  # the start counts with the first step
                    break
                line = proc.stdout.readline()
                if not line:
                    err.seek(0)
                    lines = err.read().strip().splitlines() or ["?"]
                    # the exception's own line (SQLAlchemy ends with a link to its docs)
                    said = [x for x in lines if x[:1].isalpha() and ("Error" in x or "Exception" in x)]
                    out[step] = "failed: " + (said or lines)[-1][:160]
                    break
                got = json.loads(line)
                out[got.pop("step")] = got
        finally:
            proc.wait()
            sel.close()
    return out


def measure(system: str, n: int, workdir: Path, labels: int, cap: float) -> dict:
    path = workdir / f"{system}-{n}" / ("project" if system == "ours" else "peer.db")
    path.parent.mkdir(parents=True)
    try:
        built = run_phase(system, "build", path, n, labels, [], cap)
        result = {"build": built.get("build", "not run"), "build_peak": peak_of(built),
                  "base_build": built.get("ready"), "disk_built": du_mb(path) if path.exists() else None}
        if not isinstance(result["build"], dict):
            if system == "peer":
                shutil.rmtree(path.parent)
                path.parent.mkdir()
                bulk = run_phase(system, "bulk", path, n, labels, [], cap)
                result["bulk"] = bulk.get("bulk", "not run")
                if not isinstance(result["bulk"], dict):
                    return result
                result["disk_built"] = du_mb(path)
            else:
                return result
        todo = list(SERVE_STEPS)
        peaks = []
        while todo:
            served = run_phase(system, "serve", path, n, labels, todo, cap)
            if peak_of(served):
                peaks.append(peak_of(served))
            result.setdefault("base_serve", served.get("ready"))
            for step in todo:
                if step in served and (step != "reopen" or "reopen" not in result):
                    result[step] = served[step]  # a reopen after a killed step is not a figure
            stopped = [s for s in todo if s in served and not isinstance(served[s], dict)]
            if not stopped or stopped[0] == "reopen":
                break
            # go on after the step that did not finish, in a fresh process (which opens again)
            todo = ["reopen"] + todo[todo.index(stopped[0]) + 1:]
            if todo == ["reopen"]:
                break
        result["disk_served"] = du_mb(path)
        result["serve_peak"] = max(peaks, key=lambda p: p[0]) if peaks else None
        pooled = run_phase(system, "pool", path, n, labels, [], cap)
        result.update(pool=pooled.get("pool", "not run"), pool_peak=peak_of(pooled), base_pool=pooled.get("ready"))
        return result
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def peak_of(phase: dict) -> tuple[float, str] | None:
    """(VmHWM in MB, note): at the process's end, or just before it was killed at the cap."""
    if isinstance(phase.get("end"), dict):
        return phase["end"]["peak_mb"], ""
    if phase.get("killed_peak_mb"):
        return phase["killed_peak_mb"], " when killed"
    seen = [v["hwm"] for v in phase.values() if isinstance(v, dict) and "hwm" in v]
    return (max(seen), " before it failed") if seen else None


def fmt_time(s: float) -> str:
    return f"{s * 1000:.2f} ms" if s < 0.1 else f"{s:.2f} s"


def cell(result: dict | None, key: str, cap: float) -> tuple[str, float | None]:
    """(text with the load average, value in seconds or MB or None)."""
    if result is None:
        return NO_PEER, None
    if key.startswith("label"):
        got = result.get("label", "not run")
        if isinstance(got, dict):
            ms = np.asarray(got["times"]) * 1000
            v = float(np.median(ms) if key == "label_median" else np.percentile(ms, 90))
            return f"{v:.2f} ms [{got['load']:.1f}]", v
    elif key in ("build_peak", "serve_peak", "pool_peak"):
        got = result.get(key)
        if got is None:
            return "—", None
        raw, note = got
        base = result.get("base_" + key.removesuffix("_peak"))
        start = base["base_mb"] if isinstance(base, dict) else float("nan")
        over = f", +{raw - start:,.0f} over {start:,.0f} after imports" if start == start else ""
        return f"{raw:,.0f} MB{note}{over}", raw
    elif key.startswith("disk"):
        v = result.get(key)
        return ("—", None) if v is None else (f"{v:,.0f} MB", v)
    else:
        got = result.get(key, "not run")
        if isinstance(got, dict):
            extra = f", {got['ids']:,} ids" if "ids" in got else ""
            return f"{fmt_time(got['s'])}{extra} [{got['load']:.1f}]", got["s"]
    if got == "cap":
        return f"did not finish in {cap:g} s", float("inf")
    return str(got), None


def report(n: int, ours: dict, peer: dict | None, cap: float, labels: int) -> None:
    rows = [("build (create + write / enqueue)", "build"), ("reopen (open_project / new DatabaseQueue)", "reopen"),
            ("first item (next_item + item / pop)", "first"),
            (f"label, serve + submit, median of {labels}", "label_median"), (f"label, p90 of {labels}", "label_p90"),
            ("a new full order (set_order / reorder)", "order"),
            ("the pool's features (features(unlabelled) / list_uncompleted)", "pool"),
            ("peak RSS, build process (VmHWM)", "build_peak"),
            ("peak RSS, open + serve process (VmHWM)", "serve_peak"),
            ("peak RSS, pool process (VmHWM)", "pool_peak"),
            ("on disk after the build", "disk_built"), ("on disk after the labels and the order", "disk_served")]
    print(f"\n## {n:,} items × {D} float32 features ({n * D * 4 / 2**20:,.1f} MB of features)   "
          f"[load {' '.join(f'{x:.1f}' for x in os.getloadavg())}]")
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'ours (folder store)':<40} {'peer (DatabaseQueue, SQLite)':<52} ours/peer")
    for label, key in rows:
        a, va = cell(ours, key, cap)
        b, vb = cell(peer, key, cap)
        if va is None or vb is None:
            ratio = "—"
        elif vb == float("inf"):
            bound = va / (cap * 1000 if key.startswith("label") else cap)
            ratio = "—" if va == float("inf") else f"< {bound:.2g}"
        elif va == float("inf") or not vb:
            ratio = "—"
        else:
            ratio = f"{va / vb:.2g}" if va / vb < 0.1 else f"{va / vb:.2f}"
            # a peak read when a process was killed or failed is a lower bound of its peak
            ratio = ("≥ " if " when killed" in a or " before it failed" in a else
                     "≤ " if " when killed" in b or " before it failed" in b else "") + ratio
        print(f"{label:<{width}}  {a:<40} {b:<52} {ratio}")
    if peer is not None and isinstance(peer.get("bulk"), dict):
        print(f"  the peer's enqueue did not finish in {cap:.0f} s; its file was then made by one bulk INSERT of the "
              f"same rows in {peer['bulk']['s']:.1f} s [{peer['bulk']['load']:.1f}] (not the peer's own code path), "
              "and the steps after the build ran on that file")
    elif peer is not None and "bulk" in peer:
        print(f"  the peer's enqueue did not finish; the bulk INSERT did not either ({peer['bulk']}): no file to open")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1m")
    parser.add_argument("--labels", type=int, default=200, help="labels per (system, size) for median / p90")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds one step may take before it is killed")
    parser.add_argument("--workdir", default=None, help="where projects are built (default: a temporary folder)")
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    has_peer = not args.no_peer and importlib.util.find_spec("superintendent") is not None
    versions = ""
    if has_peer:
        import sqlite3

        versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in ("superintendent", "sqlmodel",
                                                                                       "SQLAlchemy"))
        versions += f", SQLite {sqlite3.sqlite_version}"
    print(f"# bench_scale_peer — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, nice {os.nice(0)}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"cap {args.cap:.0f} s per step; " + (f"peer: {versions}" if has_peer else NO_PEER))
    print("# [x] beside a figure: the 1-minute load average when it was taken")
    with tempfile.TemporaryDirectory(prefix="bench-scale-peer-", dir=args.workdir) as tmp:
        for size in args.sizes.split(","):
            n, _ = parse_size(size)
            ours = measure("ours", n, Path(tmp), args.labels, args.cap)
            peer = measure("peer", n, Path(tmp), args.labels, args.cap) if has_peer else None
            report(n, ours, peer, args.cap, args.labels)
    print(f"\n# load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        system, phase, path, n, labels, steps = sys.argv[2:8]
        child(system, phase, path, int(n), int(labels), [s for s in steps.split(",") if s])
    else:
        main()
