"""The scale curve: 10k / 100k / 1M table items × 64 float32 features, and 100k × 1280 (photo embeddings).

Run: python3 benchmarks/bench_scale.py [--sizes 10k,100k,1m,100kx1280] [--clicks 30] [--sessions 3]
                                        [--peer-root /work/main]

A size ending in ``s32`` or ``s16`` (``100kx1280s32,100kx1280s16``) keeps the d features not as the
items' import features but as a *feature set* (what the background extractor or a feature file
makes) stored float32 or float16 (``settings.feature_dtype``), made the project's features; the
items keep 8 import features. The build then also reports the set's write time and its size on
disk; run both in one call to compare float16 with float32 in the same conditions.

For each size, in this order (issue 17's goals at 1M in brackets):

1. **build**: ``table_batch`` + ``create_project`` of a synthetic table (a display column
   and the feature columns; 10 classes of Gaussian blobs), in a fresh Python process;
   its peak RSS [≤ 6 s].
2. **open**: ``open_project`` + the first item (``next_item`` + ``item``), then the
   background cold start to its end, in a fresh process; RSS after each.
3. **first item after ``streamlit run``**: the browser is started first, then the server
   (``streamlit run app.py`` on a copy of the project); time from starting the server to
   the first item's label buttons and progress shown in Chromium [≤ 2.5 s]; then
   ``--first-item-runs`` more launches (each on a fresh copy, in a fresh page), median and range,
   each followed by a launch of the *floor*: a Streamlit app that draws the Label page's widgets and
   nothing else (no project, no engine), same config, same harness — what Streamlit and the browser
   take on this machine before the app does anything (``--no-floor`` skips it).
   The checkouts' modules are byte-compiled first, as pip does for an installed package
   (``--no-compile``: each launch compiles them, as the very first launch of a checkout does).
4. **click → next**: a key press (classes 1, 2, 3 in turn) until the next item is drawn
   (the progress count changed and the script stopped running); the clicks begin as soon
   as the first item shows, so the first ones run *during the cold start* (read from the
   project's manifest after each click: its order revision is 0 until the cold start
   writes its order); median and p90 for each part [median ≤ 150 ms, p90 ≤ 1.5× median].
5. **"Retrain now" in the app**: the Model page's button, from the click until the
   "Retrained on …" message is drawn; beside it the seconds the app reports, and the
   peer: the engine's own ``Learner.retrain`` on the same labels and pool, in this process
   after the server has stopped [≤ 1.5 s].
6. **server memory**: RSS after the first session, after each extra browser session
   (each shows its first item and labels one), and the peak (VmHWM) [extra session ≤ 20 MB].

Peers: the engine's own retrain for "Retrain now"; with ``--peer-root`` (another checkout,
e.g. the main branch) steps 3-4 and 6 also run on that checkout's app, same project, same
run, and the ratio is printed. Without it there is no peer for those figures ("none").
Timings are wall-clock on a shared machine: the load average is printed beside each.

``--from-files 1m`` runs only the builds from files (issue 17's streaming import): a 1M × 64 parquet
table and a 1M × 64 ``.npy`` + names file, each built with ``data.stream`` (chunks, memory bounded by
a chunk) and with today's in-memory path (read whole + one batch + ``create_project``) as the peer,
alternated in one run, each in a fresh process: time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PROGRESS = '[data-testid="stProgress"]'
BUTTON = ".st-key-label_class_0 button"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
N_CLASSES = 10


def load() -> str:
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def set_dtype_of(text: str) -> str:
    """``100kx1280s16`` → ``"float16"``, ``…s32`` → ``"float32"``, else ``""`` (import features)."""
    text = text.strip().lower()
    return {"s16": "float16", "s32": "float32"}.get(text[-3:], "")


def parse_size(text: str) -> tuple[int, int]:
    """``10k`` → (10_000, 64); ``100kx1280`` → (100_000, 1280); a ``s16``/``s32`` suffix is ignored here."""
    text = text.strip().lower()
    if set_dtype_of(text):
        text = text[:-3]
    n_text, _, d_text = text.partition("x")
    scale = {"k": 1_000, "m": 1_000_000}.get(n_text[-1:], 1)
    n = int(float(n_text.rstrip("km")) * scale)
    return n, int(d_text) if d_text else 64


def quantile(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values, dtype=float), q)) if values else float("nan")


# --------------------------------------------------------------------------- child processes


def synthetic_features(n: int, d: int) -> np.ndarray:
    """The scale curve's table features: ``n`` × ``d`` float32, 10 classes of Gaussian blobs (seed 0)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (N_CLASSES, d)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, n)
    return centres[y] + rng.normal(0, 2.0, (n, d)).astype(np.float32)


def child_build(path: str, n: int, d: int, set_dtype: str = "") -> dict:
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from superintendent_core.data.tables import table_batch
    from superintendent_core.service import create_project
    from superintendent_core.store import ProjectSettings

    X = synthetic_features(n, d)
    if set_dtype:
        return _build_with_set(path, X, set_dtype)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(d)], copy=False)
    df.insert(0, "title", [f"row {i}" for i in range(n)])
    del X
    start = time.perf_counter()
    batch = table_batch(df, kind="table", display_columns=["title"], feature_columns=[f"f{i}" for i in range(d)])
    del df
    batch_s = time.perf_counter() - start
    settings = ProjectSettings(name=f"scale {n}x{d}", kind="table", classes=tuple(str(i) for i in range(N_CLASSES)))
    start = time.perf_counter()
    create_project(path, settings, batch)
    return {"batch_s": batch_s, "create_s": time.perf_counter() - start,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _build_with_set(path: str, X: np.ndarray, dtype: str) -> dict:
    """Items with 8 import features, and ``X`` as the feature set ``emb`` stored as ``dtype``, in use."""
    from superintendent_core.service import create_project
    from superintendent_core.store import ItemBatch, ProjectSettings
    from superintendent_core.store.folder import FolderStore

    n, d = X.shape
    start = time.perf_counter()
    batch = ItemBatch(names=tuple(f"row {i}" for i in range(n)), kind="table", features=X[:, :8].copy(),
                      payloads=[{"title": f"row {i}"} for i in range(n)])
    settings = ProjectSettings(name=f"scale {n}x{d} set {dtype}", kind="table", feature_dtype=dtype,
                               classes=tuple(str(i) for i in range(N_CLASSES)))
    create_project(path, settings, batch)
    batch_s = time.perf_counter() - start
    start = time.perf_counter()
    with FolderStore(path, create=False) as store:
        for lo in range(0, n, 8192):
            store.write_feature_set("emb", np.arange(lo, min(n, lo + 8192)), X[lo:lo + 8192])
        store.update_settings(feature_set="emb")
        assert store.feature_set_dtypes() == {"emb": dtype}
    set_bytes = sum(f.stat().st_size for f in Path(path, "featuresets", "emb").iterdir())
    return {"batch_s": batch_s, "create_s": time.perf_counter() - start, "set_dtype": dtype,
            "set_mb": set_bytes / 2**20, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def make_files(folder: str, n: int, d: int) -> None:
    """The 1M × d inputs of the file builds: a parquet table (title + features) and an .npy + names file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (N_CLASSES, d)).astype(np.float32)
    writer = None
    matrix = np.lib.format.open_memmap(Path(folder) / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, d))
    with open(Path(folder) / "names.txt", "w") as names:
        for lo in range(0, n, 100_000):
            hi = min(n, lo + 100_000)
            y = rng.integers(0, N_CLASSES, hi - lo)
            X = centres[y] + rng.normal(0, 2.0, (hi - lo, d)).astype(np.float32)
            matrix[lo:hi] = X
            cols = {"title": pa.array([f"row {i}" for i in range(lo, hi)])}
            cols.update({f"f{k}": pa.array(X[:, k]) for k in range(d)})
            table = pa.table(cols)
            writer = writer or pq.ParquetWriter(Path(folder) / "table.parquet", table.schema)
            writer.write_table(table)
            names.write("".join(f"row {i}\n" for i in range(lo, hi)))
    writer.close()
    matrix.flush()


def child_file_build(mode: str, path: str, folder: str, d: int) -> dict:
    """One build from the files of :func:`make_files`: ``stream-parquet``, ``stream-npy`` (the chunked import),
    ``memory-parquet``, ``memory-npy`` (today's path: read whole + one batch + ``create_project``)."""
    sys.path.insert(0, str(ROOT))
    from superintendent_core.service import create_project
    from superintendent_core.store import ProjectSettings

    settings = ProjectSettings(name="scale files", kind="table", classes=tuple(str(i) for i in range(N_CLASSES)))
    features = [f"f{i}" for i in range(d)]
    base = rss_mb(os.getpid())
    start = time.perf_counter()
    if mode == "stream-parquet":
        from superintendent_core.data.stream import table_chunks

        source = table_chunks(Path(folder) / "table.parquet", kind="table", display_columns=["title"],
                              feature_columns=features)
    elif mode == "stream-npy":
        from superintendent_core.data.stream import vector_chunks

        source = vector_chunks(Path(folder) / "vectors.npy", Path(folder) / "names.txt")
    elif mode == "memory-parquet":
        from superintendent_core.data.tables import read_table, table_batch

        df, _ = read_table(Path(folder) / "table.parquet")
        source = table_batch(df, kind="table", display_columns=["title"], feature_columns=features)
        del df
    else:
        import pandas as pd

        from superintendent_core.data.vectors import read_feature_file
        from superintendent_core.store import ItemBatch
        from superintendent_core.store.items import TableRows

        names, matrix = read_feature_file((Path(folder) / "vectors.npy").read_bytes(), "vectors.npy",
                                          names_data=(Path(folder) / "names.txt").read_bytes())
        source = ItemBatch(names=names, kind="table", features=matrix,
                           payloads=TableRows(pd.DataFrame({"name": names})))
    create_project(path, settings, source)
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into a child's ru_maxrss across fork + exec
    return {"build_s": time.perf_counter() - start, "peak_mb": rss_mb(os.getpid(), "VmHWM"), "base_mb": base,
            "load": load()}


def file_builds(n: int, d: int, workdir: str | None, repeats: int) -> None:
    """Builds from files, streamed and today's in-memory path, alternated in one run (fresh process each)."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        start = time.perf_counter()
        make_files(tmp, n, d)
        print(f"# inputs {n:,} x {d}: written in {time.perf_counter() - start:.1f} s; table.parquet "
              f"{os.path.getsize(Path(tmp) / 'table.parquet') / 1e6:,.0f} MB, vectors.npy "
              f"{os.path.getsize(Path(tmp) / 'vectors.npy') / 1e6:,.0f} MB [{load()}]")
        results: dict[str, list[dict]] = {}
        for r in range(repeats):
            for mode in ("stream-parquet", "memory-parquet", "stream-npy", "memory-npy"):
                target = str(Path(tmp) / f"p-{mode}-{r}")
                results.setdefault(mode, []).append(run_child("file-build", mode, target, tmp, str(d)))
                shutil.rmtree(target, ignore_errors=True)
        for mode, runs in results.items():
            print(f"  {mode:15s} build " + ", ".join(f"{x['build_s']:.2f} s" for x in runs)
                  + " · peak RSS " + ", ".join(f"{x['peak_mb']:,.0f} MB" for x in runs)
                  + " (after imports, before the build: " + ", ".join(f"{x['base_mb']:,.0f}" for x in runs) + " MB)"
                  + " [" + "; ".join(x["load"] for x in runs) + "]")
        for kind in ("parquet", "npy"):
            s = statistics.median(x["build_s"] for x in results[f"stream-{kind}"])
            m = statistics.median(x["build_s"] for x in results[f"memory-{kind}"])
            sp = statistics.median(x["peak_mb"] for x in results[f"stream-{kind}"])
            mp = statistics.median(x["peak_mb"] for x in results[f"memory-{kind}"])
            print(f"  {kind}: streamed / in-memory: time {s:.2f} / {m:.2f} s (ratio {s / m:.2f}), "
                  f"peak RSS {sp:,.0f} / {mp:,.0f} MB (ratio {sp / mp:.2f})")


def child_open(path: str, root: str) -> dict:
    sys.path.insert(0, root)
    from superintendent_core.service import open_project

    rss0 = rss_mb(os.getpid())
    start = time.perf_counter()
    with open_project(path) as project:
        opened = time.perf_counter() - start
        item_id = project.store.next_item("bench")
        project.store.item(item_id)
        first = time.perf_counter() - start
        rss_first = rss_mb(os.getpid())
        start = time.perf_counter()
        project.warm_up()
        project.scheduler.wait()
        cold = time.perf_counter() - start
        error = project.scheduler.cold_start_error
    return {"open_s": opened, "first_item_s": first, "cold_start_s": cold, "cold_start_error": error,
            "rss_base_mb": rss0, "rss_first_mb": rss_first, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the server and the browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def server(root: Path, project_dir: str):
    port = free_port()
    env = dict(os.environ, SUPERINTENDENT_PROJECT_DIR=project_dir)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.02)  # readiness polling interval
        yield url, process, started
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def order_revision(project_dir: str) -> int:
    """The project's order revision (0: no cold start or retrain has written an order yet)."""
    try:
        manifest = json.loads(Path(project_dir, "project.json").read_text())
        return int(manifest.get("order", {}).get("revision", 0) or 0)
    except (OSError, ValueError):
        return -1


def wait_item(page, timeout: float = 120_000) -> None:
    page.wait_for_selector(BUTTON, state="visible", timeout=timeout)
    page.wait_for_selector(PROGRESS, state="visible", timeout=timeout)
    page.wait_for_selector(IDLE, timeout=timeout)


def progress_text(page) -> str:
    return page.locator(PROGRESS).first.inner_text()


def click_next(page, key: str) -> float:
    """Seconds from a key press to the next item drawn (progress changed, script idle)."""
    old = progress_text(page)
    start = time.perf_counter()
    page.keyboard.press(key)
    page.wait_for_function(
        """([sel, old, idle]) => { const p = document.querySelector(sel);
              return p && p.innerText !== old && document.querySelector(idle) !== null; }""",
        arg=[PROGRESS, old, IDLE], timeout=120_000, polling="raf",
    )
    return time.perf_counter() - start


#: The floor for the first item: a Streamlit app that draws what the Label page draws for a table item
#: (navigation, sidebar input, progress, a markdown table, 10 class buttons with shortcuts, skip / undo, a
#: toggle) and does nothing else: no project, no engine, no numpy. Launched the same way, same config.
FLOOR_APP = """
import streamlit as st

st.set_page_config(page_title="floor", page_icon=":material/label:", layout="wide")


def label():
    st.progress(0.0, text="0 / 1,000,000 labelled")
    st.caption(" · ".join(f"{i}: 0" for i in range(10)))
    left, right = st.columns([2, 3], vertical_alignment="top")
    with left:
        st.markdown("| column | value |\\n| --- | --- |\\n| title | row 0 |")
        st.caption("0")
    with right:
        st.caption("No model yet: the suggestion appears after the first retrain.")
        cols = st.columns(5)
        for i in range(10):
            cols[i % 5].button(str(i), key=f"label_class_{i}", shortcut=str(i), width="stretch")
        skip, undo = st.columns(2)
        skip.button("Skip", key="skip", shortcut="S", width="stretch")
        undo.button("Undo", key="undo", shortcut="Backspace", width="stretch")
    st.toggle("Show similar", help="the items most like this one")


page = st.navigation([st.Page(label, title="Label", icon=":material/label:", default=True),
                      st.Page(lambda: None, title="Model", icon=":material/monitoring:", url_path="model"),
                      st.Page(lambda: None, title="Data", icon=":material/folder_open:", url_path="data"),
                      st.Page(lambda: None, title="Review & export", icon=":material/fact_check:",
                              url_path="review")])
with st.sidebar:
    st.caption("Project: **scale**")
    st.text_input("Labelling as", "me", help="your name in the project's records")
    st.caption("Single-user mode: every page is open.")
page.run()
"""


def floor_root(tmp: str) -> Path:
    """A folder holding :data:`FLOOR_APP` as ``app.py`` and this checkout's ``.streamlit/config.toml``."""
    root = Path(tmp) / "floor-app"
    (root / ".streamlit").mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(FLOOR_APP)
    shutil.copy(ROOT / ".streamlit" / "config.toml", root / ".streamlit" / "config.toml")
    return root


def first_item_once(browser, root: Path, project: str) -> float:
    """Seconds from ``streamlit run`` (the app at ``root``) to its first item drawn in a fresh page."""
    with server(root, project) as (url, _process, started):
        page = browser.new_page()  # a fresh page: nothing of the app cached from an earlier launch
        page.goto(url)
        wait_item(page)
        seconds = time.perf_counter() - started
        page.close()
    return seconds


def first_items(browser, root: Path, base: str, tmp: str, runs: int, floor: Path | None = None
                ) -> tuple[list[float], list[float]]:
    """``runs`` launches to the first item, each on a fresh copy; with ``floor``, each followed by the floor app's."""
    ours, floors = [], []
    for k in range(runs):
        project = _copy(base, tmp, f"first{k}")
        ours.append(first_item_once(browser, root, project))
        shutil.rmtree(project, ignore_errors=True)
        if floor is not None:
            floors.append(first_item_once(browser, floor, str(Path(tmp) / "no-project")))
    return ours, floors


def compile_sources(root: Path) -> None:
    """Byte-compile a checkout's modules, as pip does for an installed package.

    The engine and ``ui/`` are run from the checkout, not installed: without ``.pyc`` files (this
    machine sets ``PYTHONDONTWRITEBYTECODE=1``) every launch would compile them again, which no second
    launch of the app on a user's machine does. Page scripts are compiled by Streamlit on each launch
    either way.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(root / "ui"),
                    str(root / "superintendent_core")], check=True, stdout=subprocess.DEVNULL)


def app_figures(browser, root: Path, project: str, clicks: int, sessions: int, retrains: int) -> dict:
    """First item, clicks (during / after the cold start), Retrain now, memory; for the app at ``root``."""
    out: dict = {"clicks_cold": [], "clicks_warm": []}
    with server(root, project) as (url, process, started):
        page = browser.new_page()
        page.goto(url)
        wait_item(page)
        out["first_item_s"] = time.perf_counter() - started
        out["rss_first_mb"] = rss_mb(process.pid)
        keys = "123"
        i = 0
        deadline = time.monotonic() + 600
        while len(out["clicks_warm"]) < clicks and time.monotonic() < deadline:
            before = order_revision(project)
            seconds = click_next(page, keys[i % 3])
            after = order_revision(project)
            i += 1
            (out["clicks_cold"] if before == 0 or after == 0 else out["clicks_warm"]).append(seconds)
        out["click_load"] = load()
        # "Retrain now" on the Model page
        retrain_wall, retrain_app = [], []
        for _ in range(retrains):
            # a fresh Model page each time: the previous run's "Retrained on" message must not count
            page.goto(f"{url}/model")
            page.wait_for_selector(IDLE, timeout=120_000)
            page.wait_for_selector("text=Retrain now", timeout=120_000)
            if page.locator("text=/Retrained on/").count():
                raise RuntimeError("the Model page shows a retrain message before the click")
            button = page.get_by_role("button", name="Retrain now")
            start = time.perf_counter()
            button.click()
            message = page.wait_for_selector("text=/Retrained on/", timeout=300_000)
            retrain_wall.append(time.perf_counter() - start)
            text = message.inner_text()
            try:
                retrain_app.append(float(text.split(" labels in ")[1].split(" s")[0]))
            except (IndexError, ValueError):
                pass
            page.wait_for_selector(IDLE, timeout=120_000)
        out["retrain_wall_s"], out["retrain_app_s"], out["retrain_load"] = retrain_wall, retrain_app, load()
        # memory per extra session
        page.goto(url)
        wait_item(page)
        rss = [rss_mb(process.pid)]
        contexts = []
        for k in range(sessions):
            context = browser.new_context()
            extra = context.new_page()
            extra.goto(f"{url}/?labeller=extra{k}")
            wait_item(extra)
            click_next(extra, "1")
            time.sleep(0.5)  # let the session's rerun settle
            rss.append(rss_mb(process.pid))
            contexts.append(context)
        out["rss_sessions_mb"] = rss
        out["rss_peak_mb"] = rss_mb(process.pid, "VmHWM")
        for context in contexts:
            context.close()
        page.close()
    return out


def engine_retrain(project: str, repeats: int) -> dict:
    """The peer of "Retrain now": ``Learner.retrain`` on the project's labels and pool, this process."""
    sys.path.insert(0, str(ROOT))
    from superintendent_core.learning.training import _learner, audited_rows
    from superintendent_core.service import open_project

    with open_project(project) as opened:
        store = opened.store
        ids, X, y = store.training_data()
        pool = store.unlabelled_ids()
        X_pool = store.features(pool)
        audited = audited_rows(store, np.asarray(ids, dtype=np.int64))
        times, cpu = [], []
        for _ in range(repeats):
            learner, _, _ = _learner(store, None)
            start, c = time.perf_counter(), time.process_time()
            learner.retrain(X, list(y), X_pool, audited=audited)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - c)
    return {"engine_s": times, "engine_cpu_s": cpu, "n_labels": len(ids), "load": load()}


# --------------------------------------------------------------------------- report


def report(size: str, build: dict, opened: dict, app: dict, peer: dict | None, engine: dict) -> None:
    n, d = parse_size(size)
    if build.get("set_dtype"):
        print(f"\n## {n:,} items × {d} features in a {build['set_dtype']} feature set "
              f"({build['set_mb']:,.1f} MB on disk; float32 would be {n * d * 4 / 2**20:,.1f} MB) + 8 import features")
        print(f"  build: create_project {build['batch_s']:.2f} s + the set written in chunks of 8,192 "
              f"{build['create_s']:.2f} s, peak RSS {build['peak_mb']:,.0f} MB   (peer: none)   [{load()}]")
    else:
        feat_mb = n * d * 4 / 2**20
        print(f"\n## {n:,} items × {d} float32 features ({feat_mb:,.0f} MB of features)")
        print(f"  build: table_batch {build['batch_s']:.2f} s + create_project {build['create_s']:.2f} s "
              f"= {build['batch_s'] + build['create_s']:.2f} s, peak RSS {build['peak_mb']:,.0f} MB   (peer: none)")
    print(f"  open (fresh process): open_project {opened['open_s']:.2f} s, first item at {opened['first_item_s']:.2f} s "
          f"(RSS {opened['rss_first_mb']:,.0f} MB), cold start {opened['cold_start_s']:.2f} s"
          + (f" FAILED: {opened['cold_start_error']}" if opened["cold_start_error"] else "")
          + f", peak RSS {opened['peak_mb']:,.0f} MB   (peer: none)")

    def ratio(key: str, fn=lambda v: v) -> str:
        if peer is None:
            return "   (peer: none)"
        ours, theirs = fn(app[key]), fn(peer[key])
        return f"   peer {theirs:.3g}, ratio {ours / theirs:.2f}" if theirs == theirs and theirs else "   (peer: n/a)"

    print(f"  first item after `streamlit run`: {app['first_item_s']:.2f} s" + ratio("first_item_s"))
    runs = app.get("first_items_s") or []
    if runs:
        med = statistics.median(runs)
        theirs = statistics.median(peer["first_items_s"]) if peer and peer.get("first_items_s") else None
        print(f"    {len(runs)} more launches: median {med:.2f} s, range {min(runs):.2f}–{max(runs):.2f} s"
              + (f"   peer median {theirs:.2f} s, ratio {med / theirs:.2f}" if theirs else "   (peer: none)")
              + f"   [{load()}]")
    floors = app.get("floor_s") or []
    if floors:
        med_floor = statistics.median(floors)
        print(f"    the floor, a Streamlit app drawing the same widgets and nothing else, launched after each: "
              f"median {med_floor:.2f} s, range {min(floors):.2f}–{max(floors):.2f} s; "
              f"ratio {statistics.median(runs) / med_floor:.2f}, the app's own share {statistics.median(runs) - med_floor:+.2f} s")
    for part, label in (("clicks_cold", "during the cold start"), ("clicks_warm", "after it")):
        values = [1000 * v for v in app[part]]
        if not values:
            print(f"  click → next, {label}: no click fell in it")
            continue
        med, p90 = statistics.median(values), quantile(values, 0.9)
        print(f"  click → next, {label}: median {med:.0f} ms, p90 {p90:.0f} ms (p90/median {p90 / med:.2f}), "
              f"max {max(values):.0f} ms, {len(values)} clicks"
              + ratio(part, lambda v: 1000 * statistics.median(v) if v else float("nan")) + f"   [{app['click_load']}]")
    if app["retrain_wall_s"]:
        wall = statistics.median(app["retrain_wall_s"])
        shown = statistics.median(app["retrain_app_s"]) if app["retrain_app_s"] else float("nan")
        eng = statistics.median(engine["engine_s"])
        print(f"  \"Retrain now\" in the app ({engine['n_labels']} labels): click → message {wall:.2f} s "
              f"(the app reports {shown:.2f} s); runs {', '.join(f'{v:.2f}' for v in app['retrain_wall_s'])} "
              f"[{app['retrain_load']}]")
        print(f"    peer, the engine's own Learner.retrain on the same data: {eng:.2f} s "
              f"(CPU {statistics.median(engine['engine_cpu_s']):.2f} s) [{engine['load']}]; "
              f"ratio app/engine {wall / eng:.2f} (reported {shown / eng:.2f})")
    rss = app["rss_sessions_mb"]
    deltas = np.diff(rss) if len(rss) > 1 else np.array([float("nan")])
    print(f"  server RSS: after the first item {app['rss_first_mb']:,.0f} MB; with 1..{len(rss)} sessions "
          + ", ".join(f"{r:,.0f}" for r in rss) + f" MB; per extra session median {np.median(deltas):.1f} MB, "
          f"max {deltas.max():.1f} MB; peak (VmHWM) {app['rss_peak_mb']:,.0f} MB"
          + ratio("rss_peak_mb"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1m,100kx1280")
    parser.add_argument("--clicks", type=int, default=30, help="clicks after the cold start (more run during it)")
    parser.add_argument("--sessions", type=int, default=3, help="extra browser sessions for the memory figure")
    parser.add_argument("--retrains", type=int, default=3)
    parser.add_argument("--peer-root", default=None, help="another checkout whose app is measured the same way")
    parser.add_argument("--workdir", default=None, help="where projects are built (default: a temporary folder)")
    parser.add_argument("--from-files", default=None, metavar="SIZE",
                        help="only the builds from a parquet file and an .npy + names, streamed against "
                             "today's in-memory path (e.g. 1m)")
    parser.add_argument("--repeats", type=int, default=2, help="builds of each kind with --from-files")
    parser.add_argument("--first-item-runs", type=int, default=5,
                        help="extra launches timed to the first item (median and range), beside the one in step 3")
    parser.add_argument("--no-floor", action="store_true",
                        help="do not launch the floor app (the Label page's widgets and nothing else) after each launch")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not byte-compile the checkouts first (each launch then compiles them)")
    args = parser.parse_args()
    if args.from_files:
        n, d = parse_size(args.from_files)
        print(f"# bench_scale --from-files — Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {load()}")
        file_builds(n, d, args.workdir, args.repeats)
        return
    peer_root = Path(args.peer_root).resolve() if args.peer_root else None
    print(f"# bench_scale — Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {load()}; "
          f"this checkout {ROOT}" + (f", peer {peer_root}" if peer_root else ", no peer checkout"))
    if not args.no_compile:
        for root in (ROOT, peer_root):
            if root is not None:
                compile_sources(root)
        print("# the checkouts' modules were byte-compiled first (.pyc), as pip does for installed packages")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for size in args.sizes.split(","):
                n, d = parse_size(size)
                base = str(Path(tmp) / f"p{n}x{d}")
                build = run_child("build", base, str(n), str(d), set_dtype_of(size))
                opened = run_child("open", _copy(base, tmp, "open"), str(ROOT))
                served = _copy(base, tmp, "app")
                app = app_figures(browser, ROOT, served, args.clicks, args.sessions, args.retrains)
                app["first_items_s"], app["floor_s"] = first_items(
                    browser, ROOT, base, tmp, args.first_item_runs, None if args.no_floor else floor_root(tmp))
                engine = engine_retrain(served, args.retrains)
                peer = None
                if peer_root is not None:
                    peer = app_figures(browser, peer_root, _copy(base, tmp, "peer"), args.clicks, args.sessions,
                                       args.retrains)
                    peer["first_items_s"], _ = first_items(browser, peer_root, base, tmp, args.first_item_runs)
                report(size, build, opened, app, peer, engine)
                sys.stdout.flush()
                for name in os.listdir(tmp):
                    shutil.rmtree(Path(tmp) / name, ignore_errors=True)
        finally:
            browser.close()


def _copy(base: str, tmp: str, tag: str) -> str:
    target = str(Path(tmp) / f"{Path(base).name}-{tag}")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    return target


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        if kind == "build":
            result = child_build(rest[0], int(rest[1]), int(rest[2]), *rest[3:4])
        elif kind == "file-build":
            result = child_file_build(rest[0], rest[1], rest[2], int(rest[3]))
        else:
            result = child_open(rest[0], rest[1])
        print(json.dumps(result))
    else:
        main()
