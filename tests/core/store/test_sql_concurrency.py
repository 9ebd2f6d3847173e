"""Several processes × several labeller threads on one SQL store: no double lease, no lost label.

The PostgreSQL test is the issue's proof: 3 processes, 12 labellers, 3,000 items
(thousands of labels, skips and undos). A smaller SQLite run proves the same for
one machine. Each worker (``sql_worker.py``) reports, per served item, a span of
time in which its labeller certainly held the lease; two labellers' spans on one
item must never overlap, and afterwards every item carries exactly one label.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from sql_helpers import POSTGRES_URL, drop_schemas, fresh_schema, postgres_available, require

from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.sql import SQLStore

WORKER = Path(__file__).with_name("sql_worker.py")
CLASSES = ("cat", "dog", "owl")


def _make_project(url: str, n: int, schema: str | None) -> None:
    with SQLStore(url, settings=ProjectSettings(classes=CLASSES), schema=schema) as store:
        feats = np.random.default_rng(0).integers(0, 17, size=(n, 16)).astype(np.uint8)
        store.add_items(
            ItemBatch(
                names=tuple(f"img{i}.png" for i in range(n)),
                kind="image",
                features=feats,
                image_shape=(4, 4),
                pixel_max=16,
            )
        )
        store.set_order(np.random.default_rng(1).permutation(n))


def _run_workers(url: str, schema: str | None, tmp_path: Path, n_processes: int, per_process: int):
    procs, outs = [], []
    for p in range(n_processes):
        out = tmp_path / f"worker-{p}.json"
        names = ",".join(f"p{p}t{t}" for t in range(per_process))
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), url, schema or "-", str(out), names],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
        outs.append(out)
    # Two rendezvous, everyone waiting for everyone: "ready" (imports done, store open), then
    # "holding" (each labeller of each process holds its first item), so that all labellers
    # certainly take part, whatever the scheduler does.
    for step in ("ready", "holding"):
        for proc in procs:
            assert proc.stdout.readline().strip() == step
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
    for proc in procs:
        assert proc.wait(timeout=600) == 0
    held, errors = [], []
    for out in outs:
        report = json.loads(out.read_text())
        held += report["held"]
        errors += report["errors"]
    return held, errors


def _check(
    url: str, schema: str | None, n: int, held: list, errors: list, n_labellers: int
) -> None:
    assert errors == []
    spans: dict[int, list[tuple[float, float, str]]] = defaultdict(list)
    for who, item, t1, t2 in held:
        spans[item].append((t1, t2, who))
    for item, item_spans in spans.items():
        for k, (a1, a2, who_a) in enumerate(item_spans):
            for b1, b2, who_b in item_spans[k + 1 :]:
                if who_a != who_b:
                    assert a2 <= b1 or b2 <= a1, (
                        f"item {item} held by {who_a} and {who_b} at the same time"
                    )
    with SQLStore(url, schema=schema, create=False) as store:
        labels = store.labels()
        assert len(labels) == n
        assert sorted(labels["item_id"].tolist()) == list(range(n))  # every item exactly once
        assert labels["label"].tolist() == [CLASSES[i % 3] for i in labels["item_id"]]
        # Each label's labeller is the last one who was served that item.
        last = {item: max(s)[2] for item, s in spans.items()}
        assert all(
            last[i] == who for i, who in zip(labels["item_id"], labels["labeller"], strict=True)
        )
        assert len(set(labels["labeller"])) == n_labellers  # everyone worked (the worker sees to it)
        p = store.progress()
        assert (p.labelled, p.done, p.total) == (n, n, n)
        assert sum(p.per_labeller.values()) == n
        assert store.check() == []  # counters and tallies agree with a full recount
        assert store.next_item("late") is None
    assert len(held) >= n


@pytest.mark.postgres
@pytest.mark.slow
def test_three_processes_twelve_labellers_postgres(tmp_path):
    require(postgres_available(), "PostgreSQL")
    schema = fresh_schema()
    n = 3000
    try:
        _make_project(POSTGRES_URL, n, schema)
        held, errors = _run_workers(POSTGRES_URL, schema, tmp_path, n_processes=3, per_process=4)
        _check(POSTGRES_URL, schema, n, held, errors, n_labellers=12)
    finally:
        drop_schemas([schema])


@pytest.mark.slow
def test_two_processes_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'project.db'}"
    n = 600
    _make_project(url, n, None)
    held, errors = _run_workers(url, None, tmp_path, n_processes=2, per_process=3)
    _check(url, None, n, held, errors, n_labellers=6)
