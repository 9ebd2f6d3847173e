"""Getting data into and out of a project: importers build :class:`~superintendent_core.store.ItemBatch`es.

Every public name is listed in ``__all__``, with the module that defines it in
``_EXPORTS``; a name is imported when first used (PEP 562), so importing one
importer (``superintendent_core.data.demo``) does not load every other one (pandas,
Pillow, the exporters): the app shows its first item sooner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

#: public name -> module that defines it (relative to this package)
_EXPORTS: dict[str, str] = {
    "DIGIT_CLASSES": "demo",
    "digits_batch": "demo",
    "digits_settings": "demo",
    "load_digits_demo": "demo",
    "export_project_zip": "export",
    "import_project_zip": "export",
    "labels_csv": "export",
    "labels_parquet": "export",
    "write_hf_parquet": "formats",
    "write_image_folder_zip": "formats",
    "write_labels_jsonl": "formats",
    "images_from_parquet": "image_parquet",
    "ImportResult": "images",
    "images_from_files": "images",
    "images_from_folder": "images",
    "images_from_zip": "images",
    "thumbnail_features": "images",
    "import_label_table": "label_import",
    "import_labels_file": "label_import",
    "import_preannotations": "preannotations",
    "add_features": "python",
    "batch_from_python": "python",
    "read_table": "tables",
    "suggest_columns": "tables",
    "table_batch": "tables",
    "table_import": "tables",
}

__all__ = [
    "DIGIT_CLASSES",
    "ImportResult",
    "add_features",
    "batch_from_python",
    "digits_batch",
    "digits_settings",
    "export_project_zip",
    "images_from_files",
    "images_from_folder",
    "images_from_parquet",
    "images_from_zip",
    "import_label_table",
    "import_labels_file",
    "import_preannotations",
    "import_project_zip",
    "labels_csv",
    "labels_parquet",
    "load_digits_demo",
    "read_table",
    "suggest_columns",
    "table_batch",
    "table_import",
    "thumbnail_features",
    "write_hf_parquet",
    "write_image_folder_zip",
    "write_labels_jsonl",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # pragma: no cover
    from .demo import DIGIT_CLASSES, digits_batch, digits_settings, load_digits_demo
    from .export import export_project_zip, import_project_zip, labels_csv, labels_parquet
    from .formats import write_hf_parquet, write_image_folder_zip, write_labels_jsonl
    from .image_parquet import images_from_parquet
    from .images import (
        ImportResult,
        images_from_files,
        images_from_folder,
        images_from_zip,
        thumbnail_features,
    )
    from .label_import import import_label_table, import_labels_file
    from .preannotations import import_preannotations
    from .python import add_features, batch_from_python
    from .tables import read_table, suggest_columns, table_batch, table_import
