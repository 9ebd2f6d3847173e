"""A small real project of each registered data kind, built with the importers (one item factory per kind)."""

from __future__ import annotations

from superintendent_core.data import digits_batch, read_table, table_batch
from superintendent_core.store import ProjectSettings, open_store
from superintendent_core.store.items import feature_kind_of

CSV = (
    "review,stars,length,price\n"
    "Loved it: *great* value,5,12,9.99\n"
    "Broke after a week | returned,1,4,0.30000000000000004\n"
    "\"Fine, nothing more\",3,7,\n"
)


def _batch(kind: str):
    if kind == "image":
        return digits_batch(20)
    df, _ = read_table(CSV.encode())
    if kind == "text":
        return table_batch(df, kind="text", display_columns="review")
    if kind == "table":
        return table_batch(df, kind="table", display_columns=["review", "stars", "price"],
                           feature_columns=["stars", "length"])
    raise KeyError(f"no sample project for the data kind {kind!r}: add one to tests/core/kinds/kind_samples.py")


def sample_store(kind: str, path):
    """An open store of ``kind`` items (settings as the Data page makes them)."""
    from superintendent_core.kinds import default_model

    batch = _batch(kind)
    feature_kind = feature_kind_of(batch.features)
    settings = ProjectSettings(name=kind, kind=batch.kind, classes=("a", "b"), feature_kind=feature_kind,
                               model=default_model(batch.kind, feature_kind))
    store = open_store(path, settings=settings)
    store.add_items(batch)
    return store
