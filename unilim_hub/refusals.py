"""Refusing a spawn or a login with a message the user can act on, on JupyterHub 5 and 6 alike."""

from __future__ import annotations

from tornado import web

from .i18n import translate

try:  # JupyterHub >= 6: policy refusals are not counted as hub failures
    from jupyterhub.spawner import SpawnException
except ImportError:  # JupyterHub 5
    SpawnException = None


def refusal(
    code: str, language: str, *, reason: str, status: int = 403, **params: object
) -> web.HTTPError:
    """The exception that shows ``code``'s message to the user instead of a generic error."""
    if SpawnException is None:
        return error_page(code, language, status=status, **params)
    message = translate(code, language, **params)
    spawn_exception: web.HTTPError = SpawnException(message, reason=reason, status_code=status)
    return spawn_exception


def forgive_in_failure_count(handler: object) -> None:
    """Keep a policy refusal from counting as a failed spawn on JupyterHub 5.

    JupyterHub 5 counts every failed start towards ``consecutive_failure_limit`` (Zero to
    JupyterHub sets 5) and exits the hub when it is reached: five refused starts in a row,
    a forged request or a full course, would stop the hub for everyone. JupyterHub 6 does
    not count a ``SpawnException``. On 5 the count is kept in the handler's settings and
    raised by one after the failure: lower it first so that a refusal leaves it unchanged.
    """
    settings = getattr(handler, "settings", None)
    if SpawnException is None and isinstance(settings, dict):
        settings["failure_count"] = settings.get("failure_count", 0) - 1


def error_page(code: str, language: str, *, status: int, **params: object) -> web.HTTPError:
    """An error whose page shows ``code``'s message (JupyterHub's ``jupyterhub_message``)."""
    message = translate(code, language, **params)
    error = web.HTTPError(status, "%s", message)
    error.jupyterhub_message = message  # type: ignore[attr-defined]  # read by the hub's error page
    return error
