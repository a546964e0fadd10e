"""The error an adapter raises: its status and its message.

The failure count a refusal leaves is pinned on each JupyterHub version in test_compat.py.
"""

from __future__ import annotations

from tornado import web

from unilim_hub import compat, errors
from unilim_hub.i18n import translate


class FakeSpawnException(web.HTTPError):
    """JupyterHub 6's SpawnException, for the branch the JupyterHub 5 venv cannot reach."""

    def __init__(self, message: str, *, reason: str, status_code: int) -> None:
        super().__init__(status_code, "%s", message)
        self.message, self.reason = message, reason


def test_a_refusal_on_jupyterhub_5_is_an_error_page_in_the_users_language(monkeypatch):
    monkeypatch.setattr(compat, "SpawnException", None)
    error = errors.spawn_error("spawn.option_too_long", "fr", reason="r", key="profile", max=200)
    expected = translate("spawn.option_too_long", "fr", key="profile", max=200)
    assert error.status_code == 403  # the default: a refusal, not a malformed request
    assert error.jupyterhub_message == expected
    assert error.log_message % error.args == expected


def test_a_refusal_on_jupyterhub_6_is_a_spawn_exception_with_the_status(monkeypatch):
    monkeypatch.setattr(compat, "SpawnException", FakeSpawnException)
    error = errors.spawn_error("spawn.option_unknown", "fr", reason="r", key="k", expected="e")
    assert isinstance(error, FakeSpawnException)
    assert error.message == translate("spawn.option_unknown", "fr", key="k", expected="e")
    assert error.status_code == 403
    error = errors.spawn_error("spawn.no_profile", "fr", reason="spawn.no_profile", status=400)
    assert error.message == translate("spawn.no_profile", "fr")
    assert (error.status_code, error.reason) == (400, "spawn.no_profile")


def test_error_page_keeps_percent_signs_of_the_message():
    error = errors.error_page("spawn.option_unknown", "en", status=400, key="%d", expected="x")
    assert error.status_code == 400
    assert error.log_message % error.args == error.jupyterhub_message
    assert "'%d'" in error.jupyterhub_message
