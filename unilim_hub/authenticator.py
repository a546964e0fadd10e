"""UnilimAuthenticator: OIDC single sign-on, mapping the university's claims to groups and roles.

Only what differs from OAuthenticator's GenericOAuthenticator lives here: endpoints from the
IdP's discovery document, Keycloak-ready defaults, the claim rules of
:mod:`unilim_hub.policy.claims`, per-course teacher roles, and clear bilingual pages when a
login cannot go on. The rules themselves are pure functions in the policy core.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from typing import Any

from jupyterhub.roles import get_default_roles
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import default

from . import settings
from .compat import declare_custom_scope
from .configurables import AuthenticatorTraits
from .i18n import negotiate, translate
from .policy import claims
from .policy.claims import Refusal
from .policy.models import COURSE_MANAGE_SCOPE
from .policy.oidc import discovery_url, endpoints_of
from .refusals import error_page

# Failures of the IdP itself, as opposed to its answer about a person.
_UNREACHABLE = 599  # tornado's code for a timeout or a broken connection
_ROLE_SPECS = {role["name"]: role for role in get_default_roles()}


class LoginRefused(Exception):
    """A login that cannot go on; the handlers show its message in the browser's language."""

    def __init__(self, refusal: Refusal, status: int = 403) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal
        self.status = status


def _idp_failure(error: HTTPClientError | OSError) -> LoginRefused:
    """What to tell a person whose login failed on a request to the IdP."""
    if isinstance(error, HTTPClientError) and error.code < 500 and error.code != _UNREACHABLE:
        return LoginRefused(Refusal("login.idp_rejected"), status=400)  # e.g. an expired code
    return LoginRefused(Refusal("login.idp_unreachable"), status=503)


class _RefusalPages:
    """Turns :class:`LoginRefused` into the hub's error page, in the browser's language."""

    request: Any
    authenticator: UnilimAuthenticator

    def refusal_page(self, refused: LoginRefused) -> web.HTTPError:
        language = negotiate(
            self.request.headers.get("Accept-Language"), self.authenticator.default_language
        )
        return error_page(
            refused.refusal.code, language, status=refused.status, **refused.refusal.params
        )


class UnilimLoginHandler(_RefusalPages, OAuthLoginHandler):  # type: ignore[misc]
    async def get(self) -> None:
        try:
            await self.authenticator.discover()
        except LoginRefused as refused:
            raise self.refusal_page(refused) from None
        super().get()


class UnilimCallbackHandler(_RefusalPages, OAuthCallbackHandler):  # type: ignore[misc]
    async def get(self) -> None:
        try:
            await super().get()
        except LoginRefused as refused:
            raise self.refusal_page(refused) from None


class UnilimAuthenticator(AuthenticatorTraits, GenericOAuthenticator):  # type: ignore[misc]  # upstream is untyped
    """GenericOAuthenticator for the university's SSO (Keycloak-ready defaults)."""

    login_handler = UnilimLoginHandler
    callback_handler = UnilimCallbackHandler

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        return True

    @default("manage_roles")
    def _manage_roles_default(self) -> bool:
        return True

    @default("enable_auth_state")
    def _enable_auth_state_default(self) -> bool:
        return True

    @default("username_claim")
    def _username_claim_default(self) -> str:
        return "preferred_username"

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["openid", "profile", "email"]

    @default("login_service")
    def _login_service_default(self) -> str:
        return "SSO"

    @default("allowed_groups")
    def _allowed_groups_default(self) -> set[str]:
        return set(settings.load(self.config).groups.affiliations)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The authenticator is created when the hub starts: a wrong configuration stops
        # the hub here, with every problem named, instead of failing at the first login.
        try:
            self._settings = settings.load(self.config)
        except settings.UnilimConfigError as error:
            for line in str(error).splitlines():
                self.log.critical(line)
            raise SystemExit(str(error)) from None
        self._discovered = False
        self._discovery: asyncio.Task[None] | None = None
        if self.oidc_issuer:
            self._discover_in_background()

    @property
    def default_language(self) -> str:
        return self._settings.default_language

    # --- Endpoints from the discovery document -------------------------------------------

    def _discover_in_background(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the hub (a check or a unit test): at login then
            return
        # Referenced until done: the event loop keeps only a weak reference to tasks.
        self._discovery = loop.create_task(self._discover_quietly())

    async def _discover_quietly(self) -> None:
        with contextlib.suppress(LoginRefused):  # logged; the next login tries again
            await self.discover()

    async def discover(self) -> None:
        """Fill the endpoints from the issuer's discovery document, once it answers."""
        if not self.oidc_issuer or self._discovered:
            return
        url = discovery_url(self.oidc_issuer)
        try:
            document = await self.httpfetch(
                url, "fetching the OIDC discovery document", request_timeout=10
            )
        except (HTTPClientError, OSError) as error:
            self._log(logging.ERROR, "oidc.unreachable", url=url, error=str(error))
            raise LoginRefused(Refusal("login.idp_unreachable"), status=503) from None
        endpoints = endpoints_of(document, self.oidc_issuer, self.client_id)
        if isinstance(endpoints, Refusal):
            self._log(logging.ERROR, endpoints.code, **endpoints.params)
            raise LoginRefused(Refusal("login.idp_unreachable"), status=503)
        found = {
            "authorize_url": endpoints.authorize_url,
            "token_url": endpoints.token_url,
            "logout_redirect_url": endpoints.logout_url,
        }
        if not self.userdata_from_id_token:
            found["userdata_url"] = endpoints.userdata_url
        for name, url in found.items():
            if not getattr(self, name):  # what the configuration sets is kept
                setattr(self, name, url)
        self._discovered = True

    def _log(self, level: int, code: str, **params: object) -> None:
        """A hub log line for the admins, in the site's language."""
        self.log.log(level, translate(code, self.default_language, **params))

    # --- Login and refresh ------------------------------------------------------------

    async def authenticate(self, handler: Any, data: Any = None, **kwargs: Any) -> Any:
        await self.discover()
        try:
            return await super().authenticate(handler, data, **kwargs)
        except (HTTPClientError, OSError) as error:
            self._log(logging.WARNING, "log.idp_login_failed", error=str(error))
            raise _idp_failure(error) from None

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """Groups and roles again from the IdP; a person no longer allowed must log in again.

        While the IdP is unreachable, people stay logged in with the groups they had.
        """
        try:
            await self.discover()
            model = await super().refresh_user(user, handler, **kwargs)
            if isinstance(model, dict):
                await self.check_allowed(user.name, model)
        except LoginRefused as refused:
            self._log(logging.INFO, "log.login_again", user=user.name, reason=refused.refusal.code)
            return False
        except (HTTPClientError, OSError) as error:
            self._log(logging.WARNING, "log.refresh_kept", user=user.name, error=str(error))
            return True
        return model

    def user_info_to_username(self, user_info: dict[str, Any]) -> str:
        if callable(self.username_claim):
            name = claims.username_from(self.username_claim(user_info), "username_claim")
        else:
            name = claims.username_from(user_info.get(self.username_claim), self.username_claim)
        if isinstance(name, Refusal):
            message = translate(name.code, self.default_language, **name.params)
            self._log(logging.WARNING, "log.login_refused", reason=message)
            raise LoginRefused(name)
        return name

    def _membership(self, auth_state: dict[str, Any]) -> claims.Membership:
        user_info = auth_state[self.user_auth_state_key]
        return claims.membership(user_info, self._settings.claims, self._settings.groups)

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        return set(self._membership(auth_state).groups)

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        """Add the roles: `user`, `admin` for admins, and one per course taught."""
        groups = self._membership(auth_model["auth_state"]).groups
        admin = bool(auth_model["admin"]) or bool(groups & self.admin_groups)
        roles = [copy.deepcopy(_ROLE_SPECS["user"])]
        if admin:
            roles.append(copy.deepcopy(_ROLE_SPECS["admin"]))
        for grant in claims.teacher_roles(groups, self._settings.claims, self._settings.groups):
            description = translate("role.teacher", self.default_language, course=grant.course)
            roles.append(
                {"name": grant.name, "description": description, "scopes": list(grant.scopes)}
            )
        auth_model["roles"] = roles
        return auth_model

    async def load_managed_roles(self) -> list[dict[str, Any]]:
        """Declare the course service's scope before JupyterHub loads any role using it."""
        description = translate("scope.courses_manage", self.default_language)
        declare_custom_scope(COURSE_MANAGE_SCOPE, description)
        roles: list[dict[str, Any]] = await super().load_managed_roles()
        return roles

    async def check_allowed(self, username: str, auth_model: dict[str, Any] | None) -> bool:
        if await super().check_allowed(username, auth_model):
            return True
        ignored = self._membership(auth_model["auth_state"]).ignored if auth_model else ()
        self._log(
            logging.WARNING,
            "log.not_allowed",
            user=username,
            allowed=", ".join(sorted(self.allowed_groups)),
            ignored=", ".join(ignored) or "-",
        )
        raise LoginRefused(Refusal("login.not_allowed"))
