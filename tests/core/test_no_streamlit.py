"""The engine is a library: nothing under superintendent_core imports streamlit."""

import ast
from pathlib import Path

from fresh_python import run_fresh

PACKAGE = Path(__file__).resolve().parents[2] / "superintendent_core"


def test_no_module_imports_streamlit_statically():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(PACKAGE.parent)}: {n}" for n in names if n.split(".")[0] == "streamlit"]
    assert offenders == []


def test_importing_every_module_does_not_load_streamlit():
    modules = [
        "superintendent_core." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" and p.stem != "__main__"
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "import superintendent_core\n"
        "print('streamlit' in sys.modules)\n"
    )
    out = run_fresh(code)
    assert out.strip() == "False"
