"""Every registered strategy says, in one line, what it does (the Model page lists it next to the name)."""

from __future__ import annotations

import numpy as np
import pytest

from superintendent_core.acquisition import (
    STRATEGIES,
    register_strategy,
    strategy_description,
    strategy_names,
)
from superintendent_core.strategies import registry


@pytest.fixture
def clean_registry():
    strategies, descriptions = dict(registry.STRATEGIES), dict(registry.DESCRIPTIONS)
    yield
    registry.STRATEGIES.clear()
    registry.STRATEGIES.update(strategies)
    registry.DESCRIPTIONS.clear()
    registry.DESCRIPTIONS.update(descriptions)


BUILTINS = ["margin", "entropy", "certainty", "random", "neighbourhood"]


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_has_its_own_one_line_description(name):
    text = strategy_description(name)
    assert text and "\n" not in text and len(text) < 140
    assert text != registry.NO_DESCRIPTION


def test_the_builtin_descriptions_differ():
    assert set(BUILTINS) <= set(strategy_names())
    assert len({strategy_description(n) for n in BUILTINS}) == len(BUILTINS)


def test_a_users_strategy_is_described_by_its_docstrings_first_line(clean_registry):
    @register_strategy("first_column")
    def first_column(probabilities):
        """Largest first-column probability first.

        More detail that the list does not show.
        """
        return np.argsort(-np.asarray(probabilities)[:, 0], kind="stable")

    assert strategy_description("first_column") == "Largest first-column probability first."
    register_strategy("told", first_column, description="What I was told.\nNot this.")
    assert strategy_description("told") == "What I was told."
    register_strategy("silent", lambda p: np.arange(len(p)))
    assert strategy_description("silent") == registry.NO_DESCRIPTION
    assert {"first_column", "told", "silent"} <= set(STRATEGIES)


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid names are .*'margin'"):
        strategy_description("no_such")
