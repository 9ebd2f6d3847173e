"""The app's background feature jobs: one per open project and extractor, shared by every session.

The engine's :class:`~superintendent_core.service.featurize.FeaturizeJob` does
the work; this module keeps one job per (project, extractor) in the process-wide
registry (:mod:`ui.runtime`, not ``st.session_state`` nor ``st.cache_*``: a job
outlives any browser session and no client message can drop it) and decides, cheaply on
every rerun, whether one must start. This module never imports streamlit.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from superintendent_core.features import EXTRACTORS
from superintendent_core.service.featurize import (
    FeaturizeJob,
    FeaturizeStatus,
    apply_feature_choice,
)
from superintendent_core.store.errors import StoreError

from . import runtime

__all__ = ["current_job", "discard_jobs", "ensure_features", "retrain_soon", "status"]

log = logging.getLogger(__name__)
_JOB = "featurize-job"
_SEEN = "featurize-seen"
#: How long :func:`retrain_soon` waits for a running retrain to finish before giving up.
RETRAIN_WAIT_SECONDS = 600


def retrain_soon(project: Any) -> None:
    """Start a background retrain as soon as none is running (the features changed: the model is stale)."""
    if project.store.progress().labelled == 0:
        return

    def wait_and_request() -> None:
        deadline = time.monotonic() + RETRAIN_WAIT_SECONDS
        while time.monotonic() < deadline:
            if project.scheduler.request():
                return
            time.sleep(1.0)

    threading.Thread(target=wait_and_request, name="superintendent-retrain-after-features", daemon=True).start()


def _key(project: Any, extractor: str) -> tuple:
    return (_JOB, project.path, id(project.store), extractor)


def discard_jobs(path: str, *, store: Any = None, keep: str | None = None) -> int:
    """Stop and drop the feature jobs of the project at ``path`` (of ``store`` only, when given),
    except the one computing ``keep``; returns how many were dropped.

    Called before another extractor's job starts (the old one must not keep a worker busy)
    and before a project is closed (a job must not run on a closed store).
    """
    registry = runtime.registry()
    dropped = 0
    for key in registry.keys():
        if not (isinstance(key, tuple) and len(key) == 4 and key[0] == _JOB and key[1] == path):
            continue
        if store is not None and key[2] != id(store):
            continue
        if keep is not None and key[3] == keep:
            continue
        dropped += bool(registry.discard(key))
    return dropped


def current_job(project: Any) -> FeaturizeJob | None:
    """The job of the project's chosen extractor in this process, if one was made."""
    extractor = project.store.settings.feature_extractor
    return runtime.registry().peek(_key(project, extractor)) if extractor else None


def ensure_features(project: Any, *, force: bool = False) -> FeaturizeJob | None:
    """Switch the project to the features it should use, or start computing them in the background.

    Cheap on reruns: it looks again only when the pool, the chosen extractor or
    the feature setting changed since it last looked in this process (or ``force``).
    """
    store = project.store
    settings = store.settings
    seen_key = (_SEEN, project.path, id(store))
    marker = (store.revision().items, settings.feature_extractor, settings.feature_set)
    seen = runtime.registry().get(seen_key, dict)
    if not force and seen.get("marker") == marker:
        return current_job(project)
    try:
        extractor = apply_feature_choice(store, on_change=lambda: retrain_soon(project))
    except StoreError:
        log.exception("Choosing the features of %s failed", project.path)
        return None
    seen["marker"] = (store.revision().items, store.settings.feature_extractor, store.settings.feature_set)
    discard_jobs(project.path, store=store, keep=extractor)  # another extractor's job: stopped, not left running
    if extractor is None:
        return None
    job = runtime.registry().get(
        _key(project, extractor),
        lambda: FeaturizeJob(store, extractor, on_complete=lambda: retrain_soon(project)),
        close=lambda j: j.stop(10),
    )
    job.start()  # False when running already
    return job


def status(project: Any) -> FeaturizeStatus | None:
    """The chosen extractor's progress (None when the project uses its import features by choice)."""
    extractor = project.store.settings.feature_extractor
    job = current_job(project)
    if job is not None:
        return job.status()
    if not extractor or extractor not in EXTRACTORS or apply_needed(project) is None:
        return None  # import features, or vectors someone brought (nothing to compute)
    return FeaturizeJob(project.store, extractor).status()  # a job of another process, or none yet


def apply_needed(project: Any) -> str | None:
    """The extractor whose set differs from the import features, or None (no set is involved)."""
    from superintendent_core.service.featurize import wanted_feature_set

    return wanted_feature_set(project.store.settings) or None
