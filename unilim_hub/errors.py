"""The errors people see: a refused start or login, with a message they can act on."""

from __future__ import annotations

from tornado import web

from . import compat
from .i18n import translate


def spawn_error(
    code: str, language: str, *, reason: str, status: int = 403, **params: object
) -> web.HTTPError:
    """The exception that shows ``code``'s message to the user instead of a generic error."""
    if compat.SpawnException is None:
        return error_page(code, language, status=status, **params)
    message = translate(code, language, **params)
    spawn_exception: web.HTTPError = compat.SpawnException(
        message, reason=reason, status_code=status
    )
    return spawn_exception


def error_page(code: str, language: str, *, status: int, **params: object) -> web.HTTPError:
    """An error whose page shows ``code``'s message (JupyterHub's ``jupyterhub_message``)."""
    message = translate(code, language, **params)
    error = web.HTTPError(status, message)  # without arguments, tornado keeps "%" as it is
    error.jupyterhub_message = message  # type: ignore[attr-defined]  # read by the hub's error page
    return error
