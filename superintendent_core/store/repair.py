"""Repair a damaged folder project: ``python -m superintendent_core.store.repair <folder>``.

Opening a folder project already repairs what can be repaired, and never deletes
a byte: damaged records of ``labels.log`` are set aside in ``labels.log.damaged-<n>``;
a damaged ``project.json`` is set aside and its previous generation
(``project.json.prev``) takes its place; a damaged labels snapshot is set aside and
rebuilt from the snapshot before it and ``labels.log.prev``. This command does that
on purpose, prints each step, and folds the repaired labels into a fresh snapshot.
When the project cannot be made to open it says why and exits with status 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import StoreError
from .folder import FolderStore
from .folder.files import MANIFEST, repair_hint, restore_hint

__all__ = ["repair"]


def repair(path: str | os.PathLike) -> list[str]:
    """Repair the folder project at ``path``; returns one sentence per step taken.

    Raises
    ------
    StoreError
        The project cannot be repaired (the sentence says what is wrong and what to do),
        is open in another process, or ``path`` holds no project.
    """
    path = Path(path)
    if not (path / MANIFEST).exists():
        raise StoreError(f"There is no labelling project in {path} (it has no {MANIFEST}).")
    try:
        store = FolderStore(path, create=False)
    except StoreError as exc:
        msg = str(exc)
        hint = repair_hint(path)
        if msg.endswith(hint):  # the refusal points here; say what is left instead
            msg = f"{msg[: -len(hint)].rstrip()} It cannot be repaired from the files in the folder. {restore_hint(path)}"
        raise type(exc)(msg) from None
    try:
        steps = store.damage_report()
        store.compact()
        n = len(store.labels())
    finally:
        store.close()
    if not steps:
        return [f"{path}: no damage found; the project opens with {n} label(s)."]
    return [*steps, f"{path} is repaired: it opens with {n} label(s) in force."]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m superintendent_core.store.repair <project folder>", file=sys.stderr)
        return 2
    try:
        steps = repair(args[0])
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for step in steps:
        print(step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
