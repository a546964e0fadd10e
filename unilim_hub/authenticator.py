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
import inspect
import logging
import time
from collections.abc import Mapping
from typing import Any

from jupyterhub.roles import get_default_roles
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import default

from . import configuration
from .compat import declare_custom_scope
from .configurables import AuthenticatorTraits
from .errors import error_page
from .i18n import negotiate, translate
from .policy import claims
from .policy.models import COURSE_MANAGE_SCOPE
from .policy.oidc import discovery_url, endpoints_of, issuer_problem
from .policy.refusal import Refusal

_ROLE_SPECS = {role["name"]: role for role in get_default_roles()}


class LoginError(Exception):
    """A login that cannot go on; the handlers show its message in the browser's language."""

    def __init__(self, refusal: Refusal, status: int = 403) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal
        self.status = status


class IdpUnavailable(LoginError):
    """The IdP does not answer, or answers with a server error: nothing is known about anyone."""

    def __init__(self) -> None:
        super().__init__(Refusal("login.idp_unreachable"), status=503)


class TokenUnusable(Exception):
    """A token in hand that says nothing: missing, expired or unreadable (never shown: secret)."""


def _is_outage(error: HTTPClientError | OSError) -> bool:
    """A failure of the IdP itself (down, 5xx), as opposed to its answer about a person (4xx)."""
    return not isinstance(error, HTTPClientError) or error.code >= 500  # 599: no connection


def _idp_failure(error: HTTPClientError | OSError) -> LoginError:
    """What to tell a person whose login failed on a request to the IdP."""
    if _is_outage(error):
        return IdpUnavailable()
    return LoginError(Refusal("login.idp_rejected"), status=400)  # e.g. an expired code


def _scrubbed(uri: str) -> str:
    """A request's path without its query: the callback's query holds the authorization code."""
    path, _, query = uri.partition("?")
    return f"{path}?[{len(query)} characters withheld]" if query else path


class _RefusalPages:
    """Turns :class:`LoginError` into the hub's error page, in the browser's language.

    Also keeps the request's query out of the hub log: tornado logs every error with the
    request's full URI, and the callback's holds the authorization code and the state.
    """

    request: Any
    authenticator: UnilimAuthenticator

    def _request_summary(self) -> str:
        request = self.request
        return f"{request.method} {_scrubbed(request.uri)} ({request.remote_ip})"

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, web.HTTPError):
            message = value.log_message or ""
            if value.args:
                message %= value.args
            logging.getLogger("tornado.general").warning(
                "%d %s: %s", value.status_code, self._request_summary(), message
            )
        else:  # without the request's repr, which holds the URI
            logging.getLogger("tornado.application").error(
                "Uncaught exception %s", self._request_summary(), exc_info=(typ, value, tb)
            )

    def refusal_page(self, refused: LoginError) -> web.HTTPError:
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
        except LoginError as refused:
            raise self.refusal_page(refused) from None
        super().get()


class UnilimCallbackHandler(_RefusalPages, OAuthCallbackHandler):  # type: ignore[misc]
    async def get(self) -> None:
        try:
            await super().get()
        except LoginError as refused:
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
        return set(configuration.load(self.config).groups.affiliations)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The authenticator is created when the hub starts: a wrong configuration stops
        # the hub here, with every problem named, instead of failing at the first login.
        try:
            self._settings = configuration.load(self.config)
        except configuration.UnilimConfigError as error:
            for line in str(error).splitlines():
                self.log.critical(line)
            raise SystemExit(str(error)) from None
        # Configured names read as claims are ("/hub-admins" -> "hub-admins"): upstream
        # compares these sets with the groups get_user_groups returns.
        self.admin_groups = set(self._settings.groups.admin_groups)
        if self._settings.claims.allowed_groups:
            self.allowed_groups = set(self._settings.claims.allowed_groups)
        self._discovered = False
        self._discovery: asyncio.Task[None] | None = None
        self._idp_down_since: float | None = None  # monotonic time of the first failure
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
        with contextlib.suppress(LoginError):  # logged; the next login tries again
            await self.discover()

    async def discover(self) -> None:
        """Fill the endpoints from the issuer's discovery document, once it answers.

        Raises :class:`IdpUnavailable` while it does not answer, or while what it answers
        cannot be used (the log says why; people read that the SSO is unavailable).
        """
        if not self.oidc_issuer or self._discovered:
            return
        insecure = issuer_problem(self.oidc_issuer)
        if insecure is not None:  # check-config refuses it too; this is the last guard
            self._log(logging.ERROR, insecure.code, **insecure.params)
            raise IdpUnavailable()
        url = discovery_url(self.oidc_issuer)
        try:
            document = await self.httpfetch(
                url, "fetching the OIDC discovery document", request_timeout=10
            )
        except (HTTPClientError, OSError) as error:
            self._log(logging.ERROR, "oidc.unreachable", url=url, error=str(error))
            raise IdpUnavailable() from None
        endpoints = endpoints_of(
            document, self.oidc_issuer, self.client_id, self.oidc_endpoint_hosts
        )
        if isinstance(endpoints, Refusal):
            self._log(logging.ERROR, endpoints.code, **endpoints.params)
            raise IdpUnavailable()
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

    # --- Login --------------------------------------------------------------------------

    async def authenticate(self, handler: Any, data: Any = None, **kwargs: Any) -> Any:
        await self.discover()
        try:
            return await super().authenticate(handler, data, **kwargs)
        except (HTTPClientError, OSError) as error:
            self._log(logging.WARNING, "log.idp_login_failed", error=str(error))
            raise _idp_failure(error) from None
        except (TokenUnusable, web.HTTPError) as error:
            # Upstream's messages here may hold the token response or the ID token itself.
            status = getattr(error, "status_code", 401)
            self._log(logging.WARNING, "log.idp_login_failed", error=f"HTTP {status}")
            raise LoginError(Refusal("login.idp_rejected"), status=400) from None

    async def token_to_user(self, token_info: Any) -> Any:
        """The claims of a token response; a missing, expired or unreadable token says nothing.

        Upstream answers HTTP 500 for an expired ID token (``userdata_from_id_token``) and
        fails on a missing token response: both only mean "ask again with the refresh token".
        """
        if not isinstance(token_info, Mapping) or not token_info.get("access_token"):
            raise TokenUnusable()
        try:
            return await super().token_to_user(token_info)
        except web.HTTPError:  # its message holds the token: never logged
            raise TokenUnusable() from None

    # --- Refresh ------------------------------------------------------------------------

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """Groups and roles again from the IdP; a person no longer allowed must log in again.

        An expired, missing or unreadable token is renewed with the refresh token, or the
        person logs in again: never an error page. While the IdP does not answer, people
        keep the groups of their last refresh for ``idp_outage_grace`` seconds.
        """
        if not self.enable_auth_state:
            return True
        auth_state = await user.get_auth_state()
        if self.refresh_user_hook is not None:
            refreshed = await self._call_refresh_user_hook(user, auth_state)
            if refreshed is not None:
                return refreshed
        result: dict[str, Any] | bool = False
        try:
            await self.discover()
            model = await self._fresh_auth_model(auth_state, handler)
            if model is None:
                raise LoginError(Refusal("login.idp_rejected"))  # no token works any more
            if model["name"] != user.name:
                raise LoginError(Refusal("login.renamed"))  # JupyterHub would answer 500
            await self.check_allowed(user.name, model)
            result = model
        except IdpUnavailable:
            return self._during_outage(user.name, "discovery")
        except (HTTPClientError, OSError) as error:  # only outages get this far
            return self._during_outage(user.name, str(error))
        except LoginError as refused:
            self._log(logging.INFO, "log.login_again", user=user.name, reason=refused.refusal.code)
        self._idp_down_since = None  # the IdP answered
        return result

    async def _fresh_auth_model(self, auth_state: Any, handler: Any) -> dict[str, Any] | None:
        """The auth model from the stored token, else from the refresh token; ``None``: log in.

        Raises for an outage (server errors, no connection), which is not the person's doing.
        """
        state = auth_state if isinstance(auth_state, Mapping) else {}
        try:
            stored: dict[str, Any] = await self._token_to_auth_model(state.get("token_response"))
            return stored
        except TokenUnusable:
            pass
        except HTTPClientError as error:
            if _is_outage(error):
                raise
            # 4xx: the access token expired or was revoked
        refresh_token = state.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            return None
        params = self.build_refresh_token_request_params(refresh_token)
        try:
            token_info = await self.get_token_info(handler, params)
            if not token_info.get("refresh_token"):  # some IdPs do not send it again
                token_info["refresh_token"] = refresh_token
            model: dict[str, Any] = await self._token_to_auth_model(token_info)
        except (TokenUnusable, web.HTTPError):
            return None
        except HTTPClientError as error:
            if _is_outage(error):
                raise
            return None  # the refresh token expired, or the session ended at the IdP
        return model

    def _during_outage(self, name: str, error: str) -> bool:
        """Keep the person (with the groups they had) until the outage outlasts the grace."""
        now = time.monotonic()
        if self._idp_down_since is None:
            self._idp_down_since = now
        if now - self._idp_down_since >= self.idp_outage_grace:
            self._log(logging.WARNING, "log.outage_logout", user=name, error=error)
            return False
        self._log(logging.WARNING, "log.refresh_kept", user=name, error=error)
        return True

    # --- Claims -------------------------------------------------------------------------

    def user_info_to_username(self, user_info: dict[str, Any]) -> str:
        if callable(self.username_claim):
            name = claims.username_from(self.username_claim(user_info), "username_claim")
        else:
            value = claims.claim_at(user_info, self.username_claim)
            name = claims.username_from(value, self.username_claim)
        if isinstance(name, Refusal):
            message = translate(name.code, self.default_language, **name.params)
            self._log(logging.WARNING, "log.login_refused", reason=message)
            raise LoginError(name)
        return name

    async def _membership(self, auth_state: dict[str, Any]) -> claims.Membership:
        user_info = auth_state[self.user_auth_state_key]
        values = await self._group_values(auth_state)
        return claims.membership(user_info, self._settings.claims, self._settings.groups, values)

    async def _group_values(self, auth_state: dict[str, Any]) -> tuple[str, object] | None:
        """The group values at ``auth_state_groups_key`` when the configuration sets it.

        GenericOAuthenticator always has a value (``oauth_user.groups``, from the
        deprecated ``claim_groups_key``): only a configured one replaces ``groups_claim``.
        """
        section = configuration.authenticator_section(self.config)
        if "auth_state_groups_key" not in section and "claim_groups_key" not in section:
            return None
        key = self.auth_state_groups_key
        if callable(key):
            values = key(auth_state)
            if inspect.isawaitable(values):
                values = await values
            return "auth_state_groups_key", values
        return key, claims.claim_at(auth_state, key)

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        return set((await self._membership(auth_state)).groups)

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        """Add the roles: `user`, `admin` for admins, and one per course taught."""
        groups = (await self._membership(auth_model["auth_state"])).groups
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
        ignored = (await self._membership(auth_model["auth_state"])).ignored if auth_model else ()
        self._log(
            logging.WARNING,
            "log.not_allowed",
            user=username,
            allowed=", ".join(sorted(self.allowed_groups)),
            ignored=", ".join(ignored) or "-",
        )
        raise LoginError(Refusal("login.not_allowed"))
