"""The README's two commands stay true, and CI runs the README's test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_COMMAND = "pip install -r requirements.txt && streamlit run app.py"
TEST_COMMAND = "python3 -m pip install -r requirements-test.txt && python3 -m pytest"


def test_readme_has_both_commands():
    readme = (ROOT / "README.md").read_text()
    assert APP_COMMAND in readme
    assert TEST_COMMAND in readme


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert TEST_COMMAND.replace("pip install -r", "pip install -q -r") in ci


def test_requirements_files_exist_and_chain():
    assert (ROOT / "requirements.txt").is_file()
    assert "-r requirements.txt" in (ROOT / "requirements-test.txt").read_text()


def test_the_architecture_section_names_every_package_of_the_engine():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Architecture") :]
    packages = sorted(p.name for p in (ROOT / "superintendent_core").iterdir() if (p / "__init__.py").is_file())
    missing = [name for name in packages if f"`{name}/`" not in section]
    assert missing == [], f"README's Architecture section does not describe: {missing}"


def test_run_the_app_states_the_python_versions_and_the_venv_step():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Run the app") : readme.index("## Run the tests")]
    assert "3.11" in section and "3.13" in section
    assert "python3 -m venv .venv" in section and APP_COMMAND in section


def test_project_folders_are_git_ignored():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "labelling-project/" in ignored and "projects/" in ignored
