"""Getting data into and out of a project: importers build :class:`~superintendent_core.store.ItemBatch`es."""

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
