"""Team mode: the sign-in fixes who is labelling (issue 13: impersonation).

With the shared labeller passcode a person picks a display name that is not a
personal identity's; after signing in neither the sidebar field nor the URL's
``?labeller=`` changes it, so nobody labels or undoes as someone else.
Single-user mode keeps its free name field.
"""

from __future__ import annotations

import pytest

from ui import state as S
from ui.project import open_project

from . import test_roles
from .conftest import errors, exceptions
from .test_roles import CAROL_CODE, LABELLER_CODE, sign_in

team = test_roles.team  # the fixture: a fresh team-mode session


def _labels(project_dir):
    return open_project(project_dir).store.labels()


@pytest.mark.parametrize("taken", ["Carol", "CAROL", "\uff43\uff41\uff52\uff4f\uff4c", "Alice", "lead@example.org",
                                   "mallory@example.org"])
def test_a_shared_passcode_cannot_sign_in_as_a_personal_identity(team, taken):
    at = team().run()
    sign_in(at, LABELLER_CODE, name=taken, role="labeller")
    assert at.session_state[S.ROLE] is None
    assert exceptions(at) == []
    (message,) = errors(at)
    assert message.startswith(("Labeller name: ", "Wrong passcode"))  # a plain refusal, no role
    assert taken not in message


def test_an_invisible_character_in_the_name_is_refused(team):
    at = team().run()
    sign_in(at, LABELLER_CODE, name="zoe\u202e", role="labeller")
    assert at.session_state[S.ROLE] is None
    assert any("invisible characters" in e for e in errors(at))


def test_the_url_cannot_change_a_shared_passcode_users_name(team, project_dir):
    at = team().run()
    sign_in(at, LABELLER_CODE, name="zoe", role="labeller")
    at.query_params[S.QP_LABELLER] = "carol"
    at.run()
    assert at.query_params[S.QP_LABELLER] == "zoe"  # overwritten with the sign-in's name
    at.button(key=S.label_class_key(0)).click().run()
    assert list(_labels(project_dir)["labeller"]) == ["zoe"]


def test_the_sidebar_field_is_locked_after_a_shared_passcode_sign_in(team, project_dir):
    # (Streamlit 1.67 itself discards a value a client forges for a disabled widget and skips its
    # callback, runtime/state/session_state.py; ui.widgets._rename refuses it too.)
    at = team().run()
    sign_in(at, LABELLER_CODE, name="zoe", role="labeller")
    field = at.sidebar.text_input(key=S.LABELLER_INPUT)
    assert field.value == "zoe" and field.disabled
    at.button(key=S.label_class_key(0)).click().run()
    assert list(_labels(project_dir)["labeller"]) == ["zoe"]


def test_a_labeller_cannot_undo_someone_elses_label_through_the_url(team, project_dir):
    carol = team().run()
    sign_in(carol, CAROL_CODE, name="carol", role="labeller")
    carol.button(key=S.label_class_key(0)).click().run()
    assert list(_labels(project_dir)["labeller"]) == ["carol"]

    zoe = team().run()
    sign_in(zoe, LABELLER_CODE, name="zoe", role="labeller")
    zoe.query_params[S.QP_LABELLER] = "carol"
    zoe.run()
    zoe.button(key=S.LABEL_UNDO).click().run()
    zoe.query_params[S.QP_LABELLER] = "carol"  # set again just before the click
    zoe.button(key=S.LABEL_UNDO).click().run()
    assert list(_labels(project_dir)["labeller"]) == ["carol"]  # carol's label is still there
    assert any("Nothing to undo" in m for m in [str(i.value) for i in zoe.info])


def test_single_user_mode_keeps_the_free_name_field(app, project_dir):
    at = app
    at.query_params[S.QP_LABELLER] = "ann"
    at.run()
    field = at.sidebar.text_input(key=S.LABELLER_INPUT)
    assert field.value == "ann" and not field.disabled
    field.input("bob").run()
    assert at.query_params[S.QP_LABELLER] == "bob"
    assert errors(at) == [] and exceptions(at) == []
