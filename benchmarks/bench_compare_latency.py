"""Does comparing strategies slow labelling down? Click → next image with and without a comparison running.

Run: python3 benchmarks/bench_compare_latency.py [--items 20000] [--labels 1000] [--clicks 15] [--rounds 4]

One app server, two browser sessions: session A labels on the Label page (a key
press → the next image loaded, as ``bench_app.py`` measures it); session B opens
the Model page and presses "Compare strategies on my labels". Figures, medians
of ``--clicks`` key presses each:

1. A's click → next image before the comparison;
2. the same while the comparison runs (B's page polls its progress every second;
   the worker process replays ``--labels`` labels of 28×28 pixels);
3. the same after B cancelled the comparison with its Cancel button.

The goal (issue 12): 2. within 1.5× of 1. It also prints the worker's CPU
seconds during 2. (proof it was busy), and checks that the worker process is
gone after the cancel. The project is synthetic (bench_app's images: 64 base
patterns with noise; a label is the pattern's number modulo 10).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from benchmarks.bench_app import CHROMIUM, CHROMIUM_ARGS, IMAGE, server, wait_new_image  # noqa: E402

PROGRESS = '[data-testid="stProgress"]'


def build_project(path: str, n: int, n_labels: int) -> str:
    from superintendent_core.service import create_project
    from superintendent_core.store import ItemBatch, ProjectSettings

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(64, 784), dtype=np.uint8)
    pattern = rng.integers(0, 64, size=n)
    pixels = base[pattern] ^ rng.integers(0, 8, size=(n, 784), dtype=np.uint8)
    # blur the classes a little: 20 % of the pixels of each image come from another pattern
    other = base[rng.integers(0, 64, size=n)]
    mask = rng.random((n, 784)) < 0.2
    pixels[mask] = other[mask]
    labels = [str(p % 10) if i < n_labels else None for i, p in enumerate(pattern)]
    batch = ItemBatch(
        names=tuple(f"img-{i:06d}" for i in range(n)), kind="image", features=pixels,
        image_shape=(28, 28), pixel_max=255.0, labels=labels,
    )
    settings = ProjectSettings(name=f"{n:,} images", kind="image", classes=tuple(str(i) for i in range(10)))
    return create_project(path, settings, batch)


def idle(page) -> None:
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-testid="stApp"]');
                   return a && a.getAttribute('data-test-script-state') === 'notRunning'; }""",
        timeout=60_000,
    )


def clicks_ms(page, n: int) -> list[float]:
    times = []
    for _ in range(n):
        old = page.locator(IMAGE).first.get_attribute("src")
        start = time.perf_counter()
        page.keyboard.press("1")
        wait_new_image(page, old)
        times.append(1000 * (time.perf_counter() - start))
    return times


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--labels", type=int, default=1_000)
    parser.add_argument("--clicks", type=int, default=15, help="clicks per condition and round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--interleave", type=int, default=0, metavar="N",
                        help="also N pairs of 2 clicks with the worker paused / running (SIGSTOP / SIGCONT)")
    parser.add_argument("--pin", action="store_true",
                        help="server and worker on CPU 1, the browser on CPU 0 (as when visitors' browsers run "
                             "on their own machines); default: everything shares every CPU")
    parser.add_argument("--unwatched", action="store_true",
                        help="session B leaves the Model page while the comparison runs (no progress polling)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"# bench_compare_latency — Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{args.items:,} items of 28×28 pixels, {args.labels:,} labelled"
          + (", server and worker pinned to CPU 1, browser to CPU 0" if args.pin else ", every process on every CPU"))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        project = build_project(str(Path(tmp) / "p"), args.items, args.labels)
        print(f"built the project in {time.perf_counter() - start:.1f} s")
        served = str(Path(tmp) / "served")
        shutil.copytree(project, served)
        with server(ROOT / "app.py", served) as (url, process), sync_playwright() as p:
            if args.pin:  # the server (and the worker it starts) on CPU 1, the browser on CPU 0
                for thread in Path(f"/proc/{process.pid}/task").iterdir():
                    os.sched_setaffinity(int(thread.name), {1})
                os.sched_setaffinity(0, {0})
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            labeller = browser.new_context().new_page()
            labeller.goto(url)
            labeller.wait_for_selector(IMAGE, timeout=60_000)
            clicks_ms(labeller, 5)  # warm up
            admin = browser.new_context().new_page()
            admin.goto(f"{url}/model")
            admin.wait_for_selector(".st-key-compare_start button", timeout=60_000)
            idle(admin)
            without, within, rounds = [], [], []
            for _ in range(args.rounds):
                quiet = clicks_ms(labeller, args.clicks)
                # every round's labels differ, so Compare starts a new comparison (nothing cached)
                admin.click(".st-key-compare_start button")
                admin.wait_for_selector(PROGRESS, timeout=60_000)
                admin.wait_for_function(  # the worker is past its start-up and replaying
                    "s => { const e = document.querySelector(s); return e && e.innerText.includes('Replaying'); }",
                    arg=PROGRESS, timeout=120_000,
                )
                if args.unwatched:  # nobody looks at the Model page: no polling, only the worker
                    admin.goto("about:blank")
                workers = children(process.pid)
                cpu_start = {w: cpu_seconds(w) for w in workers}
                wall = time.perf_counter()
                busy = clicks_ms(labeller, args.clicks)
                wall = time.perf_counter() - wall
                cpu = sum(cpu_seconds(w) - cpu_start[w] for w in workers)
                if args.unwatched:
                    admin.goto(f"{url}/model")
                    admin.wait_for_selector(".st-key-compare_start button", timeout=60_000)
                    idle(admin)
                running = admin.locator(PROGRESS).count() > 0
                admin.click(".st-key-compare_cancel button")
                admin.wait_for_selector("text=The last comparison was cancelled.", timeout=60_000)
                time.sleep(0.5)
                gone = all(not Path(f"/proc/{w}").exists()
                           or Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
                           for w in workers)
                without += quiet
                within += busy
                rounds.append((statistics.median(quiet), statistics.median(busy), len(workers), cpu, wall,
                               running, gone))
            paused, resumed, still, cpus = [], [], False, []
            if args.interleave:
                admin.click(".st-key-compare_start button")
                admin.wait_for_selector(PROGRESS, timeout=60_000)
                admin.wait_for_function(
                    "s => { const e = document.querySelector(s); return e && e.innerText.includes('Replaying'); }",
                    arg=PROGRESS, timeout=120_000,
                )
                workers = children(process.pid)
                cpus = sorted({c for w in workers for c in os.sched_getaffinity(w)})
                for _ in range(args.interleave):
                    for w in workers:
                        os.kill(w, signal.SIGSTOP)
                    paused += clicks_ms(labeller, 2)
                    for w in workers:
                        os.kill(w, signal.SIGCONT)
                    resumed += clicks_ms(labeller, 2)
                still = admin.locator(PROGRESS).count() > 0
                admin.click(".st-key-compare_cancel button")
                admin.wait_for_selector("text=The last comparison was cancelled.", timeout=60_000)
            browser.close()

    med = statistics.median
    print(f"\n## Click → next image, {args.rounds} rounds of {args.clicks} clicks without, then with a comparison")
    for i, (quiet, busy, n_workers, cpu, wall, running, gone) in enumerate(rounds, 1):
        print(f"  round {i}: without {quiet:6.1f} ms, with {busy:6.1f} ms (ratio {busy / quiet:.2f}); "
              f"{n_workers} worker, {cpu:.1f} CPU s in {wall:.1f} s, still running at the end: {running}, "
              f"gone after Cancel: {gone}")
    print(f"  all rounds, median (p90): without {med(without):6.1f} ms ({np.percentile(without, 90):.0f}), "
          f"with {med(within):6.1f} ms ({np.percentile(within, 90):.0f})")
    print(f"  ratio with / without: {med(within) / med(without):.2f}   [goal ≤ 1.5]")
    if paused:
        print(f"\n## Interleaved: 2 clicks with the worker paused (SIGSTOP), 2 with it running, × {args.interleave}")
        print(f"  paused {med(paused):6.1f} ms ({np.percentile(paused, 90):.0f}), running {med(resumed):6.1f} ms "
              f"({np.percentile(resumed, 90):.0f}); ratio {med(resumed) / med(paused):.2f}; "
              f"comparison still running at the end: {still}; worker's CPUs: {cpus}")
    print(f"  load average at the end: {os.getloadavg()[0]:.1f} (other processes share the machine)")


if __name__ == "__main__":
    main()
