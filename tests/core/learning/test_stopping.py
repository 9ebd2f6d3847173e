"""Reading the estimate's history: the curve, the headline, and the stop rule (``learning.stopping``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from superintendent_core.learning.stopping import (
    StopAdvice,
    describe_estimate,
    estimate_curve,
    latest_estimate,
    when_to_stop,
)


def _entry(n, value, half=0.03, **extra):
    entry = {"n_labels": n, "score": 0.6, "metric": "accuracy", "model": "logistic_regression"}
    if value is not None:
        entry.update(estimate=value, estimate_low=max(0.0, value - half), estimate_high=min(1.0, value + half),
                     estimate_target="new", estimate_n=max(1, n // 3), estimate_note="")
    entry.update(extra)
    return entry


def _history(points, half=0.03, **extra) -> pd.DataFrame:
    return pd.DataFrame([_entry(n, v, half, **extra) for n, v in points])


# --------------------------------------------------------------------------- the curve


def test_one_point_per_label_count_the_latest_wins():
    """A restart's warm-up retrain (same n_labels as the entry before it) adds no second point."""
    history = _history([(20, 0.70), (40, 0.80), (40, 0.82), (60, 0.85)])
    curve = estimate_curve(history)
    assert curve["n_labels"].tolist() == [20, 40, 60]
    assert curve["estimate"].tolist() == [0.70, 0.82, 0.85]
    assert curve["n_labels"].dtype == np.int64


def test_a_later_entry_without_an_estimate_does_not_hide_the_one_at_the_same_count():
    """A warm-up retrain that recorded no estimate (or no score): the count keeps the latest one that has one."""
    history = pd.DataFrame([_entry(10, 0.7), _entry(20, 0.8), {"n_labels": 20, "score": 0.65},
                            {**_entry(30, 0.85), "score": None}])
    curve = estimate_curve(history)
    assert curve["estimate"].tolist() == [0.7, 0.8, 0.85]
    assert curve["score"].tolist()[:2] == [0.6, 0.65] and math.isnan(curve["score"].iloc[2])
    assert curve["estimate_target"].tolist() == ["new", "new", "new"]
    assert latest_estimate(history).n_labels == 30


def test_the_curve_tolerates_old_entries_nan_text_and_nonsense():
    history = pd.DataFrame([
        {"n_labels": 10, "score": 0.5},  # written before the estimate existed
        {"n_labels": 20, "score": float("nan"), "estimate": float("nan"), "estimate_low": None},
        {"n_labels": 30, "score": "0.7", "estimate": "0.8", "estimate_low": "0.7", "estimate_high": "0.9"},
        {"n_labels": 40, "estimate": 1.7, "estimate_low": 0.1, "estimate_high": 2.0},  # not an accuracy
        {"n_labels": 50, "estimate": 0.8, "estimate_low": 0.85, "estimate_high": 0.9},  # value outside its interval
        {"n_labels": None, "estimate": 0.8},  # no label count: cannot be placed
        {"n_labels": "x", "estimate": 0.8},
        {"n_labels": 60, "estimate": float("inf")},
    ])
    curve = estimate_curve(history)
    assert curve["n_labels"].tolist() == [10, 20, 30, 40, 50, 60]
    assert curve["estimate"].isna().tolist() == [True, True, False, True, True, True]
    assert curve["estimate_low"].isna().tolist() == [True, True, False, True, True, True]
    assert curve["score"].tolist()[2] == 0.7
    assert "not a valid accuracy" in curve["estimate_note"].iloc[3]


def test_the_curve_of_nothing_is_empty_with_its_columns():
    for history in (None, pd.DataFrame()):
        curve = estimate_curve(history)
        assert len(curve) == 0 and {"n_labels", "estimate", "estimate_low", "estimate_high", "score"} <= set(curve)


# --------------------------------------------------------------------------- the headline


def test_headline_says_the_number_its_interval_and_what_it_is_about():
    summary = latest_estimate(_history([(100, 0.90), (150, 0.93)], half=0.03))
    assert summary.headline == "Estimated accuracy 93 % (90 % interval 90–96 %) on new items"
    assert summary.known and summary.n_labels == 150 and summary.n_audited == 50
    assert summary.basis.startswith("Rests on 50 of the 150 labels: items drawn at random")
    unlabelled = describe_estimate({**_entry(90, 0.81), "estimate_target": "unlabelled"})
    assert unlabelled.headline.endswith("on the items not yet labelled")


def test_without_a_number_the_reason_is_given_never_a_number():
    note = "Not enough audited labels yet: 4 of the 20 needed."
    summary = latest_estimate(pd.DataFrame([_entry(30, None, estimate=None, estimate_note=note)]))
    assert not summary.known and summary.value is None
    assert summary.headline == "No accuracy estimate yet"
    assert summary.basis == note
    assert "predate" in latest_estimate(pd.DataFrame([{"n_labels": 30, "score": 0.5}])).basis
    assert "No retrain recorded yet" in latest_estimate(pd.DataFrame()).basis
    assert "No retrain recorded yet" in latest_estimate(None).basis
    invalid = latest_estimate(pd.DataFrame([_entry(30, None, estimate=0.9, estimate_low=0.95, estimate_high=0.99)]))
    assert not invalid.known and "not a valid accuracy" in invalid.basis


def test_an_older_estimate_is_shown_with_its_label_count_and_why_the_latest_has_none():
    history = pd.DataFrame([_entry(100, 0.9), _entry(120, None, estimate=None, estimate_note="multi-label projects "
                                                          "have no estimate yet")])
    summary = latest_estimate(history)
    assert summary.known and summary.n_labels == 100
    assert "retrain at 100 labels" in summary.basis and "latest retrain (120 labels) has none" in summary.basis
    assert "multi-label" in summary.basis


def test_a_value_without_its_interval_is_not_shown():
    summary = describe_estimate({"n_labels": 50, "estimate": 0.9, "estimate_target": "new", "estimate_n": 12})
    assert not summary.known and "not a valid accuracy with its 90 % interval" in summary.basis
    odd = describe_estimate({"n_labels": 50, "estimate": 0.9, "estimate_low": 0.8, "estimate_high": 0.95,
                             "estimate_target": "<b>weird</b>"})
    assert odd.headline == "Estimated accuracy 90 % (90 % interval 80–95 %)"  # no claim about what it is about
    assert "was not recorded" in odd.basis and "weird" not in odd.basis


#: What the estimator (learning.estimate) says an estimate rests on.
NOTE = ("How often the model was right on 61 audited labels (items served at random for the estimate, "
        "each scored by a model that had not seen it).")


def test_describe_takes_an_accuracy_estimate_like_object():
    class Estimate:  # the interface of AccuracyEstimate (learning.estimate): to_entry() and n_labels
        n_labels = 200

        def to_entry(self):
            return {"estimate": 0.95, "estimate_low": 0.92, "estimate_high": 0.97, "estimate_target": "unlabelled",
                    "estimate_n": 61, "estimate_note": NOTE}

    summary = describe_estimate(Estimate())
    assert summary.headline == "Estimated accuracy 95 % (90 % interval 92–97 %) on the items not yet labelled"
    assert summary.basis == NOTE + " Model trained on 200 labels."  # the estimator's own words come first
    assert not describe_estimate(None).known
    with pytest.raises(TypeError):
        describe_estimate(0.9)


# --------------------------------------------------------------------------- when to stop: examples


def test_the_sentences_carry_the_figures():
    flat = when_to_stop(_history([(n, 0.89 + 0.0001 * n) for n in range(10, 160, 10)], half=0.032))
    assert flat.stop is True and flat.stretch == 50 and flat.n_points == 6
    assert flat.sentence.startswith("The estimate rose 0.5 points over the last 50 labels (")
    assert "less than its noise (±3.2 points): more labels are unlikely to help this model much." in flat.sentence
    rising = when_to_stop(_history([(n, 0.5 + 0.002 * n) for n in range(10, 160, 10)], half=0.03))
    assert rising.stop is False and rising.sentence.startswith("Still improving: +10.0 points over the last 50 labels")
    falling = when_to_stop(_history([(n, 0.95 - 0.002 * n) for n in range(10, 160, 10)], half=0.03))
    assert falling.stop is False and falling.sentence.startswith("The estimate fell 10.0 points")
    early = when_to_stop(_history([(n, 0.7 + 0.001 * n) for n in range(10, 70, 10)], half=0.15))
    assert early.stop is None and early.sentence == (
        "Too early to call a plateau: the estimate rose 3.0 points over the last 30 labels (73.0 % → 76.0 %), "
        "but its noise (±15.0 points) is wider than 5.0 points, so a gain of several points would not show yet; "
        "the interval narrows as audited labels come in.")
    short = when_to_stop(_history([(10, 0.5), (20, 0.6)]))
    assert short.stop is None and short.sentence == (
        "Not enough history yet to say when to stop (need estimates at ≥ 3 label counts spanning 30 labels; "
        "have 2 spanning 10 labels).")


def test_within_its_noise_of_100_percent_is_a_plateau_whatever_the_trend():
    history = _history([(n, min(0.995, 0.9 + 0.001 * n)) for n in range(100, 310, 20)], half=0.008)  # high: 1
    advice = when_to_stop(history)
    assert advice.stop is True and advice.sentence == (
        "The estimate is 99.5 %, within its noise (±0.7 points) of 100 %: there is little left for more labels "
        "to gain.")
    assert when_to_stop(_history([(n, 0.9 + 0.001 * n) for n in range(10, 90, 10)], half=0.008)).stop is False


def test_percentages_never_round_to_100_or_0_and_intervals_round_outwards():
    assert describe_estimate(_entry(300, 0.995, half=0.0)).headline.startswith("Estimated accuracy 99.5 % (90 % "
                                                                                "interval 99–100 %)")
    assert describe_estimate(_entry(300, 0.9999, half=0.0)).headline.startswith("Estimated accuracy > 99.9 %")
    assert describe_estimate(_entry(300, 1.0, half=0.0)).headline.startswith("Estimated accuracy 100 % (90 % "
                                                                              "interval 100–100 %)")
    assert describe_estimate(_entry(300, 0.003, half=0.0)).headline.startswith("Estimated accuracy 0.3 %")
    entry = {**_entry(300, 0.9), "estimate_low": 0.8749, "estimate_high": 0.9251}
    assert describe_estimate(entry).headline.startswith("Estimated accuracy 90 % (90 % interval 87–93 %)")


def test_nothing_to_go_on_says_so():
    for history in (None, pd.DataFrame(), pd.DataFrame([{"n_labels": 40, "score": 0.6}] * 5)):
        advice = when_to_stop(history)
        assert advice.stop is None and advice.sentence.startswith("Not enough history yet")


def test_estimates_without_an_interval_do_not_count():
    history = _history([(n, 0.9) for n in range(10, 100, 10)])
    history.loc[history.index[-3:], ["estimate_low", "estimate_high"]] = np.nan
    advice = when_to_stop(history)
    assert advice.stop is True and advice.sentence.endswith("this model much.")
    assert advice.stretch == 30  # 10…60: the last third of 60 labels, at least 30


def test_only_the_current_model_counts():
    """A jump from switching models is not a gain from labels."""
    before = _history([(n, 0.7) for n in range(10, 100, 10)], model="random_forest")
    after = _history([(100, 0.9), (110, 0.9)], model="logistic_regression")
    advice = when_to_stop(pd.concat([before, after], ignore_index=True))
    assert advice.stop is None and "since the model changed at 100 labels" in advice.sentence


def test_retrains_above_the_latest_label_count_are_labels_since_undone():
    """Retrains at 110 and 120 labels, then labels undone and a retrain at 100: the 110/120 points are not the
    current model's history (with them the trend would rise by far more than the noise)."""
    history = _history([(n, 0.8) for n in range(10, 110, 10)] + [(110, 0.9), (120, 0.93), (100, 0.8)])
    advice = when_to_stop(history)
    assert advice.stop is True and advice.stretch == 30 and advice.end == pytest.approx(0.8)
    assert advice.sentence.startswith("The estimate held steady over the last 30 labels (80.0 % → 80.0 %)")
    assert when_to_stop(history.iloc[:-1]).stop is False


def test_bad_parameters_are_refused():
    for kwargs in ({"fraction": 0}, {"fraction": 1.5}, {"min_stretch": 0}, {"min_points": 1}, {"max_noise": 0}):
        with pytest.raises(ValueError):
            when_to_stop(None, **kwargs)


# --------------------------------------------------------------------------- when to stop: properties


@st.composite
def label_counts(draw, min_size=3, max_size=15, max_step=10):
    steps = draw(st.lists(st.integers(1, max_step), min_size=min_size - 1, max_size=max_size - 1))
    first = draw(st.integers(1, 50))
    return np.cumsum([first, *steps]).tolist()


def _frame(ns, values, half):
    return pd.DataFrame([
        {"n_labels": int(n), "model": "m", "estimate": float(v), "estimate_target": "new",
         "estimate_low": max(0.0, float(v) - half), "estimate_high": min(1.0, float(v) + half)}
        for n, v in zip(ns, values, strict=True)
    ])


@given(ns=label_counts(), half=st.floats(0.01, 0.05), factor=st.floats(1.05, 2.0),
       start=st.floats(0.0, 0.3), extra=st.data())
def test_steady_improvement_beyond_the_noise_never_says_stop(ns, half, factor, start, extra):
    """Rising at least ``half / 30`` per label (more than the noise over any 30-label stretch), plus any further
    non-negative steps: never "stop" (None when the history is too short)."""
    rate = factor * half / 30
    bumps = extra.draw(st.lists(st.floats(0.0, 0.02), min_size=len(ns), max_size=len(ns)))
    values = start + rate * (np.asarray(ns) - ns[0]) + np.cumsum(bumps)
    advice = when_to_stop(_frame(ns, values, half))
    assert advice.stop is not True
    if advice.stop is False:
        assert advice.gain > advice.noise and advice.sentence.startswith("Still improving")


@given(ns=label_counts(), half=st.floats(0.01, 0.05), level=st.floats(0.2, 0.85), extra=st.data())
def test_a_plateau_with_small_wiggles_says_stop_once_there_is_enough_history(ns, half, level, extra):
    """Any estimates within ± half/3 of a level: the least-squares rise over the stretch stays below the noise."""
    wiggles = extra.draw(st.lists(st.floats(-half / 3, half / 3), min_size=len(ns), max_size=len(ns)))
    advice = when_to_stop(_frame(ns, level + np.asarray(wiggles), half))
    if advice.stop is None:
        assert advice.sentence.startswith("Not enough history yet")
    else:
        assert advice.stop is True and abs(advice.gain) <= advice.noise


@settings(derandomize=True, max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), half=st.floats(0.01, 0.05), level=st.floats(0.3, 0.85),
       every=st.integers(5, 25))
def test_a_flat_noisy_estimate_eventually_says_stop(seed, half, level, every):
    """True accuracy flat, estimates noisy as their own interval says (sd = half-width / 1.645): looked at after
    each retrain up to 600 labels, the advice says "stop" at some point, and at most retrains of the last half."""
    rng = np.random.default_rng(seed)
    ns = np.arange(every, 600 + every, every)
    values = np.clip(level + rng.normal(0, half / 1.645, len(ns)), 0, 1)
    frame = _frame(ns, values, half)
    said = [when_to_stop(frame.iloc[: i + 1]).stop for i in range(0, len(ns), 2)]  # every other retrain
    late = said[len(said) // 2:]
    assert True in said
    assert late.count(True) > len(late) / 2


@given(ns=label_counts(), half=st.floats(0.0501, 0.5), level=st.floats(0.0, 1.0), extra=st.data())
def test_a_noisy_estimate_never_calls_a_plateau(ns, half, level, extra):
    """Wider than ±5 points: whatever the estimates do, never "stop" (a plateau cannot be told from a climb)."""
    values = extra.draw(st.lists(st.floats(0, 1), min_size=len(ns), max_size=len(ns)))
    frame = _frame(ns, values, half)
    frame["estimate_low"], frame["estimate_high"] = frame["estimate"] - half, frame["estimate"] + half
    frame = frame[(frame["estimate_low"] >= 0) & (frame["estimate_high"] <= 1)]  # valid intervals only
    advice = when_to_stop(frame)
    assert advice.stop is not True


@given(ns=label_counts(min_size=1, max_size=2, max_step=100), values=st.lists(st.floats(0, 1), min_size=2,
                                                                                      max_size=2))
def test_fewer_than_three_label_counts_are_not_enough(ns, values):
    advice = when_to_stop(_frame(ns, values[: len(ns)], 0.03))
    assert advice.stop is None and advice.sentence.startswith("Not enough history yet")


@given(ns=label_counts(max_step=4, max_size=8), values=st.lists(st.floats(0, 1), min_size=8, max_size=8))
def test_less_than_thirty_labels_of_history_is_not_enough(ns, values):
    """Estimates at label counts spanning under 30 labels: not enough, whatever they say."""
    span_ok = ns[-1] - ns[0] >= 30
    advice = when_to_stop(_frame(ns, values[: len(ns)], 0.03))
    if not span_ok:
        assert advice.stop is None and "spanning 30 labels" in advice.sentence


@given(ns=label_counts(max_size=25), values=st.lists(st.floats(0, 1), min_size=25, max_size=25),
       half=st.floats(0, 0.3))
def test_the_advice_agrees_with_its_figures(ns, values, half):
    advice = when_to_stop(_frame(ns, values[: len(ns)], half))
    assert isinstance(advice, StopAdvice)
    if advice.gain is not None:
        plateau = abs(advice.gain) <= advice.noise
        ceiling = 1 - values[len(ns) - 1] <= advice.noise <= 0.05 + 1e-12
        assert advice.stop == (True if ceiling else None if plateau and advice.noise > 0.05 + 1e-12 else plateau)
        assert math.isclose(advice.end - advice.start, advice.gain, abs_tol=1e-12)
        assert advice.stretch >= 30 and advice.n_points >= 3 and 0 <= advice.start <= 1 and 0 <= advice.end <= 1
        if round(100 * advice.gain, 1) == 0:
            assert "held steady" in advice.sentence
        else:
            assert f"{100 * abs(advice.gain):.1f} points" in advice.sentence
        assert f"±{100 * advice.noise:.1f} points" in advice.sentence


def test_near_100_percent_on_few_audited_labels_is_not_a_reason_to_stop():
    """Ten right answers in a row happen half the time at 93 %: the ceiling needs enough audited labels."""
    few = _history([(60, 0.99), (75, 1.0), (95, 1.0)], estimate_n=12)
    advice = when_to_stop(few)
    assert advice.stop is None and "12 audited labels" in advice.sentence
    many = _history([(60, 0.99), (75, 1.0), (95, 1.0)], estimate_n=40)
    assert when_to_stop(many).stop is True


def test_an_estimate_of_1_with_no_audited_error_is_shown_as_its_interval_not_as_100_percent():
    summary = describe_estimate({"n_labels": 95, "estimate": 1.0, "estimate_low": 0.92, "estimate_high": 1.0,
                                 "estimate_target": "unlabelled", "estimate_n": 12, "estimate_note": ""})
    assert "100 %" not in summary.headline.split("interval")[0]
    assert "no audited label was wrong" in summary.headline and "92–100 %" in summary.headline
