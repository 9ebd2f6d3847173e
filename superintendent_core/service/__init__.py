"""A project's lifecycle, callable without the app.

- :mod:`.locations`: where the default project lives, and which locations a link,
  a form or an import may name (pure rules over plain values);
- :mod:`.project`: opening a project (the
  digits demo for a new default one), creating one all-or-nothing, adding
  items, labelling with automatic retrains, the warm-up, closing;
- :mod:`.agreement`: agreement between labellers (Cohen's / Fleiss' kappa) and
  the disagreements to settle;
- :mod:`.progress`: team progress per labeller (labels today and in total,
  median seconds per label, skips, share of disagreements in overlap).

The app (``ui/``) wraps these in Streamlit's process-wide cache and reads its
secrets itself; nothing here imports Streamlit, and nothing imports
scikit-learn until a retrain runs.
"""

from .agreement import (
    Agreement,
    agreement,
    cohen_kappa,
    disagreements,
    fleiss_kappa,
    rating_counts,
    rating_table,
)
from .locations import (
    ENV_DATABASE_URL,
    ENV_IMPORT_ROOT,
    ENV_PROJECT_DIR,
    IMPORT_OFF,
    MANIFEST,
    SCHEMA_NAME,
    allowed_location,
    database_project_location,
    default_location,
    import_folder_location,
    is_project,
    new_project_location,
    normalise_location,
)
from .progress import PROGRESS_COLUMNS, labeller_progress, progress_table
from .project import (
    DEMO_NAME,
    Project,
    add_to_project,
    create_project,
    demo_settings,
    import_demo,
    open_project,
)

__all__ = [
    "Agreement",
    "DEMO_NAME",
    "ENV_DATABASE_URL",
    "ENV_IMPORT_ROOT",
    "ENV_PROJECT_DIR",
    "IMPORT_OFF",
    "MANIFEST",
    "PROGRESS_COLUMNS",
    "SCHEMA_NAME",
    "Project",
    "add_to_project",
    "agreement",
    "allowed_location",
    "cohen_kappa",
    "create_project",
    "database_project_location",
    "default_location",
    "demo_settings",
    "disagreements",
    "fleiss_kappa",
    "import_demo",
    "import_folder_location",
    "is_project",
    "labeller_progress",
    "new_project_location",
    "normalise_location",
    "open_project",
    "progress_table",
    "rating_counts",
    "rating_table",
]
