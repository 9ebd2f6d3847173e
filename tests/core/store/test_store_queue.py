"""ServeQueue and LabelLedger on their own: invariants under random operations."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from superintendent_core.store.ledger import LabelLedger
from superintendent_core.store.queue import ServeQueue

_ops = st.lists(
    st.tuples(st.sampled_from(["next", "done", "open", "skip", "tick", "order", "grow", "release"]),
              st.sampled_from(["a", "b", "c"]), st.integers(0, 30)),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(ops=_ops, n=st.integers(0, 12))
def test_queue_invariants(ops, n):
    now = [0.0]
    q = ServeQueue(n, lease_seconds=10, clock=lambda: now[0])
    for op, who, x in ops:
        size = len(q)
        i = x % size if size else None
        if op == "next":
            got = q.next_item(who)
            if got is not None:
                assert not q.is_done(got)
                assert q.leased_to(got) == who
            else:
                # nothing open and unleased remains for anyone who did not skip it
                open_free = [j for j in range(size) if not q.is_done(j) and q.leased_to(j) is None]
                assert not [j for j in open_free if who not in q._skipped.get(j, ())]
        elif op == "done" and i is not None:
            q.mark_done(i)
            assert q.leased_to(i) is None
        elif op == "open" and i is not None:
            q.mark_open(i)
        elif op == "skip" and i is not None:
            q.skip(i, who)
        elif op == "release" and i is not None:
            q.release(i)
        elif op == "tick":
            now[0] += x
        elif op == "order" and size:
            q.set_order(np.random.default_rng(x).permutation(size)[: x % (size + 1)])
        elif op == "grow":
            q.grow(x % 3)
        # one lease per labeller, one labeller per item
        holders = [q.leased_to(j) for j in range(len(q))]
        named = [h for h in holders if h is not None]
        assert len(named) == len(set(named))
    # liveness: with time passing, one labeller drains every open item
    now[0] += 1000
    served = set()
    while (got := q.next_item("z")) is not None:
        assert got not in served
        served.add(got)
        q.mark_done(got)
    assert all(q.is_done(j) for j in range(len(q)))


def test_ledger_rebuilt_from_snapshot_columns_matches():
    led = LabelLedger(5)
    led.add_label(0, "a", "ann", 1.0)
    led.add_label(0, "b", "bob", 2.0)
    led.add_label(1, "a", "ann", 3.0)
    led.add_label(1, "b", "ann", 4.0)  # supersedes
    led.skip(2, "ann", 5.0)
    led.undo("bob", 6.0)
    led.bulk_labels(np.array([3, 4]), ["a", "b"], "import", 7.0)
    df = led.to_frame()
    lab_codes, lab_names = np.unique(df["labeller"].astype(str), return_inverse=True)
    label_vals = df["label"].fillna("\0").astype(str)
    label_names, label_codes = np.unique(label_vals, return_inverse=True)
    label_codes = np.where(label_vals == "\0", -1, label_codes)
    label_names = [x for x in label_names.tolist()]
    again = LabelLedger.from_arrays(
        5, overlap=1, type=df["type"].to_numpy(), item=df["item"].to_numpy(),
        labeller_codes=lab_names.astype(np.int32), labeller_names=lab_codes.tolist(),
        label_codes=label_codes.astype(np.int32), label_names=label_names, time=df["time"].to_numpy(),
        seconds=df["seconds"].to_numpy(), active=df["active"].to_numpy(), prev=df["prev"].to_numpy(),
        ref=df["ref"].to_numpy())
    for attr in ("head", "n_active", "train"):
        np.testing.assert_array_equal(getattr(again, attr), getattr(led, attr))
    assert again.n_labelled == led.n_labelled == 4
    strings = lambda L: {L.labels.names[c]: n for c, n in L.label_counts.items() if n}  # noqa: E731
    assert strings(again) == strings(led) == {"a": 2, "b": 2}
    assert again.undo_target("ann") == led.undo_target("ann")


def test_settings_of_older_projects_read_the_default_audit_share():
    from superintendent_core.store import ProjectSettings

    old = ProjectSettings().to_dict()
    del old["audit_share"]  # a project saved before the setting existed
    assert ProjectSettings.from_dict(old).audit_share == 0.2
    for damaged in (7, -1, "x", None, True):
        assert ProjectSettings.from_dict(old | {"audit_share": damaged}).audit_share == 0.2
    assert ProjectSettings.from_dict(old | {"audit_share": 0}).audit_share == 0.0
    assert ProjectSettings.from_dict(ProjectSettings(audit_share=0.1).to_dict()).audit_share == 0.1
