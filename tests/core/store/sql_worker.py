"""A labelling process for the SQL concurrency tests: several labeller threads on one SQLStore.

Run as a script (the tests start several of these at once)::

    python sql_worker.py URL SCHEMA_OR_- OUT.json NAME1,NAME2,...

It prints ``ready`` once its store is open and its threads exist, then waits for a
line on stdin, so that every process starts labelling at the same moment. Each
thread then takes its first item; once all of them hold one it prints ``holding``
and waits for a second line, so that every labeller of every process is certainly
served (and holds a lease at the same moment as all the others) before anyone
labels: "everyone worked" is then guaranteed by the protocol, not by luck.

Each thread asks for items and labels them until nothing is left; now and then it
skips an item, or undoes its last label and labels that item again. It writes
``{"held": [[labeller, item, t1, t2], ...], "errors": [...]}`` to OUT.json, where
``[t1, t2]`` is a time span during which the labeller certainly held the item's
lease: after ``next_item`` returned it and before the ``submit``/``skip`` that
released it began.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from superintendent_core.store.sql import SQLStore  # noqa: E402

CLASSES = ("cat", "dog", "owl")


def main() -> int:
    url, schema, out, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
    store = SQLStore(
        url, schema=None if schema == "-" else schema, create=False, pool_size=len(names)
    )
    held: list[list] = []
    errors: list[str] = []
    guard = threading.Lock()

    holding = threading.Barrier(len(names) + 1)  # every thread holds its first item
    release = threading.Barrier(len(names) + 1)  # the test says go on

    def work(name: str) -> None:
        k = 0
        mine: list[list] = []
        try:
            i = store.next_item(name)
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            i = None
        holding.wait()
        release.wait()
        try:
            while i is not None:
                t1 = time.time()
                k += 1
                if k % 17 == 0:
                    mine.append([name, i, t1, time.time()])
                    store.skip(i, name)  # comes back to others first, to us last
                else:
                    mine.append([name, i, t1, time.time()])
                    store.submit(i, CLASSES[i % 3], name)
                    if k % 23 == 0:
                        again = store.undo(name)  # leased back to us: the next next_item serves it
                        if again != i:
                            errors.append(f"{name}: undo gave {again}, expected {i}")
                i = store.next_item(name)
        except Exception as exc:  # reported to the test, which fails
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        with guard:
            held.extend(mine)

    barrier = threading.Barrier(len(names) + 1)

    def start(name: str) -> None:
        barrier.wait()
        work(name)

    threads = [threading.Thread(target=start, args=(name,)) for name in names]
    for t in threads:
        t.start()
    # Start together with the other processes: tell the test we are ready, wait for its "go".
    print("ready", flush=True)
    sys.stdin.readline()
    barrier.wait()
    holding.wait()
    print("holding", flush=True)
    sys.stdin.readline()
    release.wait()
    for t in threads:
        t.join()
    store.close()
    Path(out).write_text(json.dumps({"held": held, "errors": errors}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
