"""superintendent for Streamlit — the entry point and the only router.

Run with ``streamlit run app.py``. With no configuration the app opens the
default project folder (``$SUPERINTENDENT_PROJECT_DIR``, the ``project_dir``
secret, or ``./labelling-project``), importing the digits demo when it is new.

With roles in the secrets (team mode, see ``ui/auth.py``) only the pages of the
session's role are registered: a visitor who has not signed in gets the Label
page, which shows nothing but the sign-in form.
"""

import streamlit as st

from ui import auth, first_run, foreground, heap
from ui import state as S
from ui.errors import reported_failures
from ui.featurize import ensure_features
from ui.project import current_project, sync_project
from ui.widgets import labeller_input, show_notices, sync_labeller, text_label

first_run.skip_use_warning_check()  # before any element: a check that costs ~50 ms once (ui/first_run.py)
st.set_page_config(page_title="superintendent", page_icon=":material/label:", layout="wide")
S.init_state(st.session_state)
heap.start()  # keeps Streamlit's collection after each rerun cheap (ui/heap.py)
foreground.register()  # background imports wait while a page is drawn (ui/foreground.py)

access = auth.resolve()  # first: an invitation token leaves the URL before anything else runs
if not access.single_user and not access.is_admin:
    # Only an admin may choose the project folder; everyone else works on the configured one.
    st.query_params.pop(S.QP_PROJECT, None)
    st.session_state[S.PROJECT] = None
# Signed in (team mode): the sign-in fixes the name; the URL's ?labeller= cannot change it.
labeller = sync_labeller(fixed=access.name, from_url=access.single_user or access.role is None)

PAGES = {
    "label": st.Page("pages/label.py", title="Label", icon=":material/label:", default=True),
    "model": st.Page("pages/model.py", title="Model", icon=":material/monitoring:"),
    "data": st.Page("pages/data.py", title="Data", icon=":material/folder_open:"),
    "review": st.Page("pages/review.py", title="Review & export", icon=":material/fact_check:"),
}
# The Label page is always registered (without a role it draws only the sign-in form);
# the others only for a role that may open them, so their URLs lead nowhere otherwise.
page = st.navigation([p for key, p in PAGES.items() if key == "label" or access.may_open(key)])

project = None
if access.role is not None:
    sync_project()
    project, error = current_project()

with st.sidebar:
    if project is not None:
        st.caption(f"Project: **{text_label(project.store.settings.name)}**")
    if access.role is not None:
        labeller_input(labeller, locked=not access.single_user)
    auth.sidebar(access)

show_notices()
with reported_failures(page.title):  # no traceback or server path reaches the browser
    page.run()
if project is not None:
    # Once per process and project, in a background thread started after the page is drawn
    # (the first item is not delayed): a never-ordered project gets its strategy's cold-start
    # order (representative items first); a project retrained before gets its model back
    # (suggestions after a restart). A no-op on later reruns.
    project.warm_up()
    # Features the project's extractor has not computed yet: a background job (resumes after a
    # restart); a no-op on reruns once it looked (ui/featurize.py).
    ensure_features(project)
# Once per process: the first run's imports and open project leave Streamlit's collection after
# this run (and every later one) alone; otherwise it delays the first item (ui/heap.py).
heap.freeze_first_run()
