"""Comparing strategies on a project's own labels (superintendent_core.service.compare)."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from superintendent_core.service import create_project
from superintendent_core.service.compare import (
    MIN_LABELS,
    CompareParameters,
    ComparisonCancelled,
    ComparisonRunner,
    comparison_data,
    recommend,
    refusal,
    run_comparison,
    strategies_to_compare,
)
from superintendent_core.store import ItemBatch, ProjectSettings, open_store
from superintendent_core.strategies import DEFAULT_STRATEGY

#: Small and quick: about a second per comparison.
QUICK = CompareParameters(seeds=(0, 1), max_budget=40, retrains=5)


def _digits_store(tmp_path, n_labelled: int, *, classes=None, name="p", **settings):
    X, y = load_digits(return_X_y=True)
    X, y = X[:400].astype("float32"), y[:400].astype(str)
    if classes is not None:
        keep = np.isin(y, classes)
        X, y = X[keep], y[keep]
    labels = [v if i < n_labelled else None for i, v in enumerate(y)]
    batch = ItemBatch(names=tuple(f"d{i}" for i in range(len(y))), kind="image", features=X,
                      image_shape=(8, 8), pixel_max=16.0, labels=labels)
    project_settings = ProjectSettings(name=name, classes=tuple(sorted(set(y))), **settings)
    return open_store(create_project(tmp_path / name, project_settings, batch))


# --------------------------------------------------------------------------- refusals


def test_refusals_say_why_in_plain_words():
    single = ProjectSettings(classes=("a", "b", "c"))
    assert "single-label projects only" in refusal(ProjectSettings(classes=("a", "b"), multi_label=True), {"a": 50, "b": 50})
    assert "none yet" in refusal(single, {"a": 0, "b": 0})
    assert "at least 2 classes" in refusal(single, {"a": 60, "b": 1, "c": 0})
    reason = refusal(single, {"a": 20, "b": 9, "c": 1})
    assert f"at least {MIN_LABELS} labels" in reason and "has 29" in reason and "Label 11 more" in reason
    assert "1 more in classes with fewer than 2 labels" in reason
    assert refusal(single, {"a": 20, "b": 20, "c": 0}) is None


def test_a_store_with_too_few_labels_or_one_class_is_refused(tmp_path):
    with _digits_store(tmp_path, 30, name="few") as store:
        with pytest.raises(ValueError, match="Not enough labels"):
            comparison_data(store)
        runner = ComparisonRunner(store)
        with pytest.raises(ValueError, match="Label 10 more"):
            runner.start()
        assert runner.status().state == "idle"
    with _digits_store(tmp_path, 60, classes=["3"], name="one") as store:
        with pytest.raises(ValueError, match="at least 2 classes"):
            comparison_data(store)


def test_small_classes_are_left_out_and_said(tmp_path):
    _, y = load_digits(return_X_y=True)
    with _digits_store(tmp_path, 0) as store:
        ids = store.unlabelled_ids()
        for i in ids[:60]:
            if y[i] != 7:
                store.submit(int(i), str(y[i]), "me")
        store.submit(next(int(i) for i in ids[60:] if y[i] == 7), "7", "me")  # one 7 only
        data = comparison_data(store)
    assert "7" not in set(data.y) and len(set(data.y)) == 9
    assert any("Left out 1 label(s) of 1 class(es)" in n for n in data.notes)


def test_the_strategies_are_the_default_margin_random_and_the_current_once():
    assert strategies_to_compare(None) == ((DEFAULT_STRATEGY, "margin", "random"), DEFAULT_STRATEGY)
    assert strategies_to_compare("margin") == ((DEFAULT_STRATEGY, "margin", "random"), "margin")
    assert strategies_to_compare("entropy") == ((DEFAULT_STRATEGY, "margin", "random", "entropy"), "entropy")
    # a name this process has not registered cannot be replayed: the default stands in
    assert strategies_to_compare("someone_elses") == ((DEFAULT_STRATEGY, "margin", "random"), DEFAULT_STRATEGY)


# --------------------------------------------------------------------------- the replay


def test_replay_is_deterministic_and_complete(tmp_path):
    with _digits_store(tmp_path, 120, strategy="entropy") as store:
        data = comparison_data(store, QUICK)
    assert data.strategies == (DEFAULT_STRATEGY, "margin", "random", "entropy") and data.current == "entropy"
    first, second = run_comparison(data), run_comparison(data)
    pd.testing.assert_frame_equal(first.curves, second.curves)
    assert first.advice == second.advice
    result = first
    assert set(result.curves["strategy"]) == set(data.strategies)
    assert (result.n_items, result.n_test, result.n_pool) == (120, 36, 84)
    assert result.budget == 40 and result.initial == 10 and result.batch_size == 6
    assert result.curves.groupby("strategy")["n_labels"].max().eq(40).all()
    assert result.curves["runs"].eq(2).all()
    assert ((result.curves["accuracy_low"] <= result.curves["accuracy"])
            & (result.curves["accuracy"] <= result.curves["accuracy_high"])).all()
    assert result.curves["accuracy"].between(0, 1).all()
    assert "84 of them replayed" in result.parameters_text and "36 held out" in result.parameters_text


def test_at_most_max_items_take_part_and_every_class_stays(tmp_path):
    with _digits_store(tmp_path, 300) as store:
        data = comparison_data(store, CompareParameters(max_items=100))
    assert len(data.y) == 100 and len(set(data.y)) == 10
    assert any("random draw of 100 of the 300 labels" in n for n in data.notes)


def test_cancelled_between_replays(tmp_path):
    with _digits_store(tmp_path, 80) as store:
        data = comparison_data(store, QUICK)
    asked = []

    def cancelled():
        asked.append(1)
        return len(asked) > 2

    seen = []
    with pytest.raises(ComparisonCancelled):
        run_comparison(data, cancelled=cancelled, progress=lambda f, m: seen.append(f))
    assert len(seen) == 2  # two replays started, the third was never begun


def test_a_text_project_is_compared(tmp_path):
    rng = np.random.RandomState(0)
    words = {"a": ["apple", "pear", "plum"], "b": ["car", "bus", "train"]}
    y = rng.choice(["a", "b"], size=80)
    texts = [" ".join(rng.choice(words[c], size=4)) + f" filler{i % 7}" for i, c in enumerate(y)]
    batch = ItemBatch(names=tuple(f"t{i}" for i in range(80)), kind="text", features=texts, labels=list(y))
    settings = ProjectSettings(name="t", kind="text", classes=("a", "b"), feature_kind="text")
    with open_store(create_project(tmp_path / "t", settings, batch)) as store:
        data = comparison_data(store, QUICK)
    assert any("orders like margin" in n for n in data.notes)
    result = run_comparison(data)
    assert result.curves["accuracy"].iloc[-1] > 0.9


def test_a_strategy_unknown_to_the_worker_is_left_out_and_said(tmp_path):
    from dataclasses import replace

    with _digits_store(tmp_path, 60) as store:
        data = comparison_data(store, CompareParameters(seeds=(0,), max_budget=20, retrains=2))
    data = replace(data, strategies=(*data.strategies, "only_in_the_app"), current="only_in_the_app")
    result = run_comparison(data)
    assert result.current == DEFAULT_STRATEGY
    assert "only_in_the_app" not in set(result.curves["strategy"])
    assert any("Not replayed: 'only_in_the_app'" in n for n in result.notes)
    assert any("stands in for the current strategy" in n for n in result.notes)


# --------------------------------------------------------------------------- the rule


def _runs(curves: dict[str, list[list[float]]], grid=(10, 20, 30, 40)) -> pd.DataFrame:
    """``{strategy: [accuracies of seed 0, of seed 1, ...]}`` on ``grid``."""
    rows = [
        {"strategy": name, "seed": seed, "n_labels": n, "accuracy": a}
        for name, per_seed in curves.items()
        for seed, accuracies in enumerate(per_seed)
        for n, a in zip(grid, accuracies, strict=True)
    ]
    return pd.DataFrame(rows)


def test_a_clear_winner_in_every_run_is_recommended():
    runs = _runs({
        DEFAULT_STRATEGY: [[0.5, 0.7, 0.8, 0.85]] * 3,
        "margin": [[0.6, 0.8, 0.85, 0.86], [0.55, 0.78, 0.84, 0.86], [0.58, 0.75, 0.82, 0.85]],
        "random": [[0.4, 0.6, 0.7, 0.8]] * 3,
    })
    recommended, advice, summary, target = recommend(runs, DEFAULT_STRATEGY)
    assert recommended == "margin"
    assert target == pytest.approx(0.9 * 0.8567, abs=1e-3)
    # margin's mean curve reaches 0.771 at 30 labels (0.7767 at 20), the default at 30 (0.8)
    assert "margin reached 0.77 accuracy (90 % of the best final one) with 20 labels" in advice
    assert "your current strategy, the default (neighbourhood), with 30 labels" in advice
    assert "better in 3 of 3 runs: switch to margin." in advice
    assert summary.set_index("strategy").loc["random", "gain"] < 0


def test_a_winner_in_only_some_runs_or_by_a_hair_is_noise():
    split = _runs({
        "margin": [[0.5, 0.7, 0.8, 0.85]] * 3,
        "random": [[0.6, 0.8, 0.9, 0.9], [0.6, 0.8, 0.9, 0.9], [0.4, 0.6, 0.7, 0.8]],
    })
    recommended, advice, _, _ = recommend(split, "margin")
    assert recommended is None
    assert "within noise: keep your current strategy, margin." in advice
    assert "The best other one, random, was +" in advice and "better in 2 of 3 runs" in advice
    hair = _runs({"margin": [[0.5, 0.7, 0.8, 0.85]] * 3, "random": [[0.505, 0.705, 0.805, 0.855]] * 3})
    assert recommend(hair, "margin")[0] is None
    # one seed: agreement means nothing, so the gain must be twice the floor
    one = _runs({"margin": [[0.5, 0.7, 0.8, 0.85]], "random": [[0.515, 0.715, 0.815, 0.865]]})
    assert recommend(one, "margin")[0] is None
    assert recommend(one, "margin", min_gain=0.005)[0] == "random"


def test_a_current_strategy_that_wins_everywhere_is_kept_and_said_so():
    runs = _runs({"margin": [[0.6, 0.8, 0.9, 0.9]] * 3, "random": [[0.5, 0.7, 0.8, 0.85]] * 3})
    recommended, advice, _, _ = recommend(runs, "margin")
    assert recommended is None
    assert advice.startswith("On your labels your current strategy, margin, did best: the next best, random, "
                             "was 8.8 points less accurate")
    assert "worse in every one of 3 runs. Keep the current strategy." in advice


def test_the_current_strategy_must_be_replayed():
    with pytest.raises(ValueError, match="not among the replays"):
        recommend(_runs({"margin": [[0.5, 0.6, 0.7, 0.8]]}), "entropy")


# --------------------------------------------------------------------------- the background job


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie not yet reaped counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_runner_replays_in_a_worker_process_and_caches_by_labels_revision(tmp_path):
    with _digits_store(tmp_path, 80) as store:
        runner = ComparisonRunner(store, QUICK)
        started = runner.start()
        assert started.state == "starting" and started.key == runner.key()
        status = runner.wait(120)
        assert status.state == "done", status.error
        assert status.result.n_items == 80 and status.fraction == 1.0
        again = runner.start()  # same labels and settings: the cached result, no new job
        assert again is status
        store.update_settings(strategy="margin")  # other settings: a new job
        assert runner.start().state == "starting"
        assert runner.wait(120).result.current == "margin"
        runner.close()
        with pytest.raises(RuntimeError, match="closed"):
            runner.start()


def test_runner_cancel_ends_the_worker(tmp_path):
    slow = CompareParameters(seeds=(0, 1, 2), max_budget=200, retrains=200)
    with _digits_store(tmp_path, 300) as store:
        runner = ComparisonRunner(store, slow)
        runner.start()
        deadline = time.monotonic() + 60
        while runner.worker_pid is None and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = runner.worker_pid
        assert pid is not None and runner.status().active
        runner.cancel()
        status = runner.wait(30)
        assert status.state == "cancelled" and status.result is None
        assert not _alive(pid)
        assert runner.worker_pid is None


def test_a_worker_that_dies_is_a_message(tmp_path):
    with _digits_store(tmp_path, 60) as store:
        runner = ComparisonRunner(store, QUICK, python="/bin/false")
        runner.start()
        status = runner.wait(30)
    assert status.state == "failed"
    assert "stopped unexpectedly (exit code 1)" in status.error


def test_the_replays_serve_with_the_projects_audit_share(tmp_path):
    with _digits_store(tmp_path, 60, name="share") as store:
        assert comparison_data(store).audit_share == store.settings.audit_share
        key = ComparisonRunner(store).key()
        store.update_settings(audit_share=0.0)
        assert comparison_data(store).audit_share == 0.0
        assert ComparisonRunner(store).key() != key  # a result made with another share is stale
