"""Find similar items: exact cosine nearest neighbours over a project's features.

How each feature kind is compared
---------------------------------
``"array"``
    The float32 features as the model sees them (``store.features(ids)``), each
    row divided by its length; the cosine is one matrix-vector product.
``"table"``
    The numeric columns, each standardised over the pool (mean 0, standard
    deviation 1; a constant column becomes 0) before the rows are normalised.
    The models of the registry get the raw columns, but a cosine on raw columns
    is decided by whichever column has the largest unit (a price in cents next
    to a ratio); standardising gives every column the same say.
``"text"``
    TF-IDF with the text models' settings (``sublinear_tf=True``, ``min_df=1``;
    :mod:`.models`), fitted on the whole pool; rows are L2-normalised by the
    vectoriser, so the cosine is a sparse matrix-vector product.

The normalised matrix is built once per (store, pool size, feature settings) and
kept in a small process-wide cache (:data:`CACHE_ENTRIES` entries and
:data:`CACHE_BYTES` bytes, least recently used first out), shared by every session and guarded by a lock; a query then
costs one product and a partial sort, no copy of the matrix. Items are never
removed from a store and their features never change, so a cache key made of the
store object, its number of items and its feature settings is exact.

Nothing here imports streamlit; scikit-learn is imported only for text.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = [
    "CACHE_ENTRIES",
    "SimilarIndex",
    "build_index",
    "clear_cache",
    "index_for",
    "neighbours_table",
    "similar_items",
]

#: Normalised matrices kept in the process-wide cache ...
CACHE_ENTRIES = 2
#: ... and their bytes at most (the newest is always kept, whatever its size).
CACHE_BYTES = 1 << 30
#: Items whose features are read from the store at a time while building (bounds the extra memory).
READ_CHUNK = 8192


@dataclass(frozen=True)
class SimilarIndex:
    """A pool's features, normalised for cosine similarity.

    Attributes
    ----------
    matrix : ndarray of float32, shape (n_items, n_features), or scipy sparse CSR
        Row ``i`` is item ``i``'s features divided by their length (zeros stay zeros).
    kind : {"array", "table", "text"}
        The feature kind it was built from.
    """

    matrix: Any
    kind: str

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def scores(self, item_id: int) -> np.ndarray:
        """Cosine similarity of every item to ``item_id``, shape (n_items,), float32."""
        row = self.matrix[int(item_id)]
        if self.kind == "text":
            return np.asarray((self.matrix @ row.T).toarray()).ravel().astype(np.float32)
        return self.matrix @ row

    def query(
        self, item_id: int, k: int = 24, *, exclude: Sequence[int] | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to ``item_id`` (not itself), most similar first.

        Parameters
        ----------
        item_id : int
        k : int, default=24
        exclude : sequence of int, optional
            Item ids never returned (besides ``item_id`` itself).

        Returns
        -------
        ids : ndarray of int64, shape (m,), m = min(k, items left)
        scores : ndarray of float32, shape (m,)
            Cosine similarities in [-1, 1]; ties are broken by the smaller id.
        """
        n = len(self)
        item_id = _check_item(item_id, n)
        k = _check_k(k)
        scores = self.scores(item_id).astype(np.float32, copy=True)
        scores[item_id] = -np.inf
        if exclude is not None and len(exclude):
            ex = np.asarray(exclude, dtype=np.int64)
            scores[ex[(ex >= 0) & (ex < n)]] = -np.inf
        valid = int(np.count_nonzero(np.isfinite(scores)))
        m = min(k, valid)
        if m == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        top = np.argpartition(-scores, m - 1)[:m] if m < n else np.arange(n)
        # order by score (descending), then id; argpartition's set can split a tie at the boundary,
        # so widen to every item with the boundary score before ordering
        cut = scores[top].min()
        top = np.flatnonzero(scores >= cut)
        order = np.lexsort((top, -scores[top]))[:m]
        top = top[order]
        return top.astype(np.int64), scores[top]


def _check_item(item_id: Any, n: int) -> int:
    if isinstance(item_id, bool) or not isinstance(item_id, int | np.integer):
        raise ValueError(f"item_id must be a whole number, got {item_id!r}.")
    if not 0 <= int(item_id) < n:
        raise ValueError(f"There is no item {item_id} in this project ({n} items).")
    return int(item_id)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a whole number of 1 or more, got {k!r}.")
    return int(k)


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Divide each row by its length in place (rows of zeros stay zeros); float32."""
    for start in range(0, len(matrix), READ_CHUNK):
        part = matrix[start : start + READ_CHUNK]
        norms = np.sqrt(np.einsum("ij,ij->i", part, part, dtype=np.float64))
        norms[norms == 0] = 1.0
        part /= norms[:, None].astype(np.float32)
    return matrix


def _array_matrix(store: Any, n: int) -> np.ndarray:
    first = np.asarray(store.features(np.arange(min(n, READ_CHUNK), dtype=np.int64)))
    if first.ndim != 2:
        raise ValueError(f"Array features must be two-dimensional, got shape {first.shape}.")
    out = np.empty((n, first.shape[1]), dtype=np.float32)
    out[: len(first)] = first
    for start in range(len(first), n, READ_CHUNK):
        ids = np.arange(start, min(n, start + READ_CHUNK), dtype=np.int64)
        out[start : start + len(ids)] = np.asarray(store.features(ids))
    return out


def build_index(features: Any, kind: str) -> SimilarIndex:
    """A :class:`SimilarIndex` from features already in memory.

    Parameters
    ----------
    features : ndarray (n, d), DataFrame (n rows of numbers) or list of str (n)
        What ``store.features`` returns for the feature kind.
    kind : {"array", "table", "text"}

    Raises
    ------
    ValueError
        An unknown kind, or features that do not fit it.
    """
    if kind == "array":
        arr = np.array(features, dtype=np.float32)  # a copy: normalised in place
        if arr.ndim != 2:
            raise ValueError(f"Array features must be two-dimensional, got shape {arr.shape}.")
        return SimilarIndex(_normalise_rows(arr), "array")
    if kind == "table":
        frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame(features)
        arr = frame.to_numpy(dtype=np.float32, copy=True)
        mean = arr.mean(axis=0, dtype=np.float64)
        std = arr.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0
        arr -= mean.astype(np.float32)
        arr /= std.astype(np.float32)
        return SimilarIndex(_normalise_rows(arr), "table")
    if kind == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [str(t) for t in features]
        try:
            matrix = TfidfVectorizer(sublinear_tf=True, min_df=1, dtype=np.float32).fit_transform(texts)
        except ValueError:  # no words at all (empty texts): every similarity is 0
            from scipy import sparse

            matrix = sparse.csr_matrix((len(texts), 1), dtype=np.float32)
        return SimilarIndex(matrix.tocsr(), "text")
    raise ValueError(f"Unknown feature kind {kind!r}; choose one of: array, table, text.")


# --------------------------------------------------------------------------- the process-wide cache

_lock = threading.Lock()
_build_lock = threading.Lock()
_cache: OrderedDict[tuple, tuple[weakref.ref, SimilarIndex]] = OrderedDict()


#: Settings that cannot change what ``store.features`` returns; any other (e.g. a feature set) is in the key.
_NOT_FEATURES = frozenset({"name", "classes", "multi_label", "model", "strategy", "shuffle_prop", "retrain_every",
                           "lease_seconds", "overlap", "random_state", "audit_share"})


def _key(store: Any) -> tuple:
    settings = store.settings.to_dict()
    feature_settings = repr(sorted((k, v) for k, v in settings.items() if k not in _NOT_FEATURES))
    # The set in use changes without a settings change (a set completing after items were added).
    return (id(store), len(store), feature_settings, store.features_in_use())


def _nbytes(index: SimilarIndex) -> int:
    m = index.matrix
    if index.kind == "text":
        return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes)
    return int(m.nbytes)


def _cache_bytes() -> int:
    return sum(_nbytes(index) for _, index in _cache.values())


def clear_cache() -> None:
    """Forget every cached matrix."""
    with _lock:
        _cache.clear()


def _cached(key: tuple, store: Any) -> SimilarIndex | None:
    with _lock:
        hit = _cache.get(key)
        if hit is None or hit[0]() is not store:  # a dead store's id can be reused
            return None
        _cache.move_to_end(key)
        return hit[1]


def index_for(store: Any) -> SimilarIndex:
    """The cached :class:`SimilarIndex` of a store's current pool (built on first use).

    One build at a time in the process; a second session asking for the same
    pool waits for the first build and shares its result.
    """
    key = _key(store)
    hit = _cached(key, store)
    if hit is not None:
        return hit
    with _build_lock:
        hit = _cached(key, store)
        if hit is not None:
            return hit
        n = key[1]
        kind = store.settings.feature_kind
        if kind == "array":
            index = SimilarIndex(_normalise_rows(_array_matrix(store, n)), "array")
        else:
            index = build_index(store.features(np.arange(n, dtype=np.int64)), kind)
        if _key(store) != key:  # the pool or its features changed during the (chunked) read: not kept
            return index
        with _lock:
            stale = [k for k in _cache if k[0] == key[0]]  # the same store's older pool
            for k in stale:
                del _cache[k]
            _cache[key] = (weakref.ref(store), index)
            while len(_cache) > CACHE_ENTRIES or (len(_cache) > 1 and _cache_bytes() > CACHE_BYTES):
                _cache.popitem(last=False)
        return index


def similar_items(
    store: Any, item_id: int, k: int = 24, *, exclude: Sequence[int] | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` items of ``store`` nearest to ``item_id`` by cosine similarity of their features.

    See :meth:`SimilarIndex.query` for the result and :func:`index_for` for the cache.
    An empty project or a pool of one item gives empty arrays.
    """
    if len(store) == 0:
        raise ValueError("The project has no items yet.")
    return index_for(store).query(item_id, k, exclude=exclude)


def neighbours_table(store: Any, item_id: int, labeller: str, k: int = 24) -> pd.DataFrame:
    """The ``k`` nearest items to ``item_id`` for a "label the similar ones" list, unlabelled first.

    Returns
    -------
    DataFrame
        One row per neighbour: ``item_id`` (int64), ``name`` (str), ``similarity``
        (float32 cosine), ``labelled`` (bool: any label in force), ``mine`` (bool:
        ``labeller`` has a label in force on it; a bulk label cannot include it),
        ``labels`` (str: ``"who: label"`` pairs joined by ``"; "``, empty when
        unlabelled; only for a viewer who may see everyone's labels),
        ``n_labellers`` (int64: distinct labellers with a label in force). Unlabelled items first, then labelled ones; by similarity
        within each group.
    """
    ids, scores = similar_items(store, item_id, k)
    labels = store.labels()
    here = labels[labels["item_id"].isin(ids.tolist())]
    by_item: dict[int, list[tuple[str, str]]] = {}
    for i, who, lab in zip(here["item_id"].tolist(), here["labeller"].tolist(), here["label"].tolist(),
                           strict=True):
        by_item.setdefault(int(i), []).append((str(who), str(lab)))
    rows = pd.DataFrame({
        "item_id": ids.astype(np.int64),
        "name": store.names(ids) if len(ids) else [],
        "similarity": scores.astype(np.float32),
        "labelled": [int(i) in by_item for i in ids.tolist()],
        "mine": [any(w == labeller for w, _ in by_item.get(int(i), ())) for i in ids.tolist()],
        "labels": ["; ".join(f"{w}: {lab}" for w, lab in by_item.get(int(i), ())) for i in ids.tolist()],
        "n_labellers": np.asarray([len({w for w, _ in by_item.get(int(i), ())}) for i in ids.tolist()],
                                  dtype=np.int64),
    })
    return rows.sort_values("labelled", kind="stable").reset_index(drop=True)
