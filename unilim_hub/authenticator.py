"""UnilimAuthenticator: OIDC single sign-on, mapping the university's claims to groups and roles."""

from __future__ import annotations

from typing import Any

from oauthenticator.generic import GenericOAuthenticator

from . import settings


class UnilimAuthenticator(GenericOAuthenticator):  # type: ignore[misc]  # upstream is untyped
    """GenericOAuthenticator for the university's SSO (Keycloak-ready defaults)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The authenticator is created when the hub starts: a wrong configuration stops
        # the hub here, with every problem named, instead of failing at the first spawn.
        try:
            settings.load(self.config)
        except settings.UnilimConfigError as error:
            for line in str(error).splitlines():
                self.log.critical(line)
            raise SystemExit(str(error)) from None
