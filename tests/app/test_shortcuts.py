"""Keyboard shortcuts of the class buttons: unique, one-character classes keep their key, reserved keys stay free."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ui.shortcuts import RESERVED_SHORTCUTS, shortcut_keys

#: What the app passes: Streamlit's C and R, its Skip key S and its Accept (pre-annotation) key P.
APP_RESERVED = RESERVED_SHORTCUTS


@given(st.lists(st.text(min_size=1, max_size=3), max_size=60, unique=True))
@settings(max_examples=60, deadline=None)
def test_shortcuts_are_unique_and_avoid_reserved_keys(classes):
    keys = shortcut_keys(classes, reserved=APP_RESERVED)
    assert len(keys) == len(classes)
    given_keys = [k for k in keys if k is not None]
    assert len(given_keys) == len(set(given_keys))
    assert not {"C", "R", "S", "P"} & set(given_keys)
    for name, key in zip(classes, keys, strict=True):  # a one-character class keeps its own key if it can
        if len(name) == 1 and len(classes) <= 30 and name.isascii() and name.isalnum():
            assert key is not None
            if name.upper() not in "CRSP" and [c.upper() for c in classes].count(name.upper()) == 1:
                assert key == name.upper()


def test_shortcuts_for_digits_and_words():
    assert shortcut_keys([str(i) for i in range(10)], reserved=APP_RESERVED) == [str(i) for i in range(10)]
    assert shortcut_keys(["cat", "dog"], reserved=APP_RESERVED) == ["1", "2"]
    assert shortcut_keys(12, reserved=APP_RESERVED)[:12] == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "A", "B"]
    assert shortcut_keys(60, reserved=APP_RESERVED).count(None) > 0


def test_shortcuts_leave_the_callers_reserved_keys_free():
    # The engine reserves nothing itself: the caller says which keys are taken (any case).
    assert shortcut_keys(["c", "r", "s"], reserved=()) == ["C", "R", "S"]
    assert shortcut_keys(["c", "r", "s"], reserved=APP_RESERVED) == ["1", "2", "3"]
    assert shortcut_keys(["s", "x"], reserved=["s", "1"]) == ["2", "X"]
    letters = shortcut_keys(40, reserved="crs")
    assert not {"C", "R", "S"} & set(letters)


def test_the_app_reserves_streamlits_keys_and_skip_by_default():
    assert shortcut_keys(["c", "r", "s"]) == shortcut_keys(["c", "r", "s"], reserved=APP_RESERVED) == ["1", "2", "3"]


def test_multi_label_toggles_leave_none_of_these_free():
    from ui.shortcuts import MULTI_RESERVED_SHORTCUTS, NONE_KEY

    keys = shortcut_keys(["n", "x", "s"], reserved=MULTI_RESERVED_SHORTCUTS)
    assert NONE_KEY not in keys and len(set(keys)) == 3
    assert not {"C", "R", "S", NONE_KEY} & set(shortcut_keys(40, reserved=MULTI_RESERVED_SHORTCUTS))
