"""How long does "Compare strategies on my labels" take? Wall time of one comparison, in this process.

Run: python3 benchmarks/bench_compare.py

The comparison's default parameters (3 seeds, 30 % held out, budget ≤ 300, about
25 retrains per replay, the project's default model), on:

- digits (64 features) with 100, 300 and 1,000 labels;
- 28×28 synthetic images (784 features, ``bench_compare_latency.py``'s) with 1,000 labels;
- 20 newsgroups-like text is not downloaded here: a synthetic text set of 1,000 labels.

It prints the seconds, the replay's parameters and the advice. The worker in the
app runs the same code at the lowest priority, so it takes at least this long.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from benchmarks.bench_compare_latency import build_project  # noqa: E402


def digits_project(path: str, n_labels: int) -> str:
    from superintendent_core.data.demo import digits_batch
    from superintendent_core.service import create_project, demo_settings
    from superintendent_core.store import open_store

    path = create_project(path, demo_settings(), digits_batch())
    with open_store(path) as store:
        ids = store.unlabelled_ids()
        ids = np.random.RandomState(0).permutation(ids)[:n_labels]
        for item_id, truth in zip(ids, store.true_labels(ids), strict=True):
            store.submit(int(item_id), str(truth), "bench")
    return path


def text_project(path: str, n_labels: int) -> str:
    from superintendent_core.service import create_project
    from superintendent_core.store import ItemBatch, ProjectSettings

    rng = np.random.RandomState(0)
    vocab = [f"w{i}" for i in range(400)]
    topics = [rng.choice(vocab, size=40, replace=False) for _ in range(5)]
    y = rng.randint(0, 5, size=n_labels)
    texts = [" ".join(np.concatenate([rng.choice(topics[c], 8), rng.choice(vocab, 12)])) for c in y]
    batch = ItemBatch(names=tuple(f"t{i}" for i in range(n_labels)), kind="text", features=texts,
                      labels=[str(c) for c in y])
    settings = ProjectSettings(name="text", kind="text", classes=tuple("01234"), feature_kind="text")
    return create_project(path, settings, batch)


def main() -> None:
    from superintendent_core.service.compare import comparison_data, run_comparison
    from superintendent_core.store import open_store

    cases = [
        ("digits, 100 labels", lambda p: digits_project(p, 100)),
        ("digits, 300 labels", lambda p: digits_project(p, 300)),
        ("digits, 1,000 labels", lambda p: digits_project(p, 1000)),
        ("28×28 images, 1,000 labels", lambda p: build_project(p, 5000, 1000)),
        ("text, 1,000 labels", lambda p: text_project(p, 1000)),
    ]
    print("# bench_compare — one comparison's wall time (this process, one BLAS thread)")
    for name, make in cases:
        with tempfile.TemporaryDirectory() as tmp:
            with open_store(make(str(Path(tmp) / "p"))) as store:
                data = comparison_data(store)
            start = time.perf_counter()
            result = run_comparison(data)
            seconds = time.perf_counter() - start
        print(f"\n## {name}: {seconds:.1f} s, {len(data.strategies)} strategies")
        print(f"  {result.parameters_text}")
        print(f"  {result.advice}")


if __name__ == "__main__":
    main()
