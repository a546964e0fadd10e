"""UnilimSpawner: KubeSpawner with unilim-hub's policy.

It adds configuration (the profile catalog, group quotas, rooms and storage) and asks the
policy core for every decision; everything else is KubeSpawner's own behaviour.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jupyterhub import orm
from kubespawner import KubeSpawner
from traitlets import default

from . import settings
from .compat import PickerHook, forgive_in_failure_count, waiting_for_response
from .configurables import SpawnerTraits
from .i18n import describe, negotiate
from .manifests import profile_entry
from .metrics import REFUSALS, SPAWNS
from .picker import render_picker
from .policy.models import Settings
from .policy.profiles import Choice, Refused, choose, course_problems, visible
from .policy.properties import GroupProperties, parse_group_properties
from .refusals import refusal


class UnilimSpawner(SpawnerTraits, PickerHook, KubeSpawner):  # type: ignore[misc]  # upstream is untyped
    """KubeSpawner for teaching: profiles by group and course, rooms, quotas, NFS and S3."""

    @property
    def settings(self) -> Settings:
        """The validated baseline policy.

        UnilimAuthenticator stops the hub at start-up when the configuration is wrong; with
        another authenticator the first spawn finds out, and the user is told, not shown a
        traceback, while the hub log lists every problem.
        """
        try:
            return settings.load(self.config)
        except settings.UnilimConfigError as error:
            self.log.critical("%s", error)
            raise refusal(
                "spawn.misconfigured",
                self._browser_language("en"),
                reason="misconfigured",
                status=503,
            ) from None

    _checked_choices: tuple[Choice, ...] = ()

    @default("container_security_context")
    def _restricted_security_context(self) -> dict[str, Any]:
        # Pod Security "restricted", which OpenShift's restricted-v2 SCC also demands. No
        # fixed UID: OpenShift assigns one from the namespace's range (images must allow it).
        return {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }

    @default("profile_list")
    def _profile_list_default(self) -> Any:
        # A callable, so KubeSpawner evaluates it for the form and again at spawn time.
        return self._profile_list

    def _profile_list(self, spawner: UnilimSpawner) -> list[dict[str, Any]]:
        language = self.language()
        # During a start, the list the request was checked against (see load_user_options).
        choices = self._checked_choices or self.visible_choices()
        return [profile_entry(choice, language) for choice in choices]

    def render_picker(self, profiles: list[dict[str, Any]]) -> str:
        """The spawn form (see :class:`~unilim_hub.compat.PickerHook`)."""
        return render_picker(profiles, self.settings.default_language)

    def language(self) -> str:
        """The user's language: the browser's during a request, else the site default."""
        return self._browser_language(self.settings.default_language)

    def _browser_language(self, default: str) -> str:
        request = getattr(self.handler, "request", None)
        header = request.headers.get("Accept-Language") if request is not None else None
        return negotiate(header, default)

    def group_properties(self) -> dict[str, GroupProperties]:
        """Our keys in the properties of the groups the policy reads for this user."""
        own = {group.name: group for group in self.user.groups}
        parsed = {}
        for name in sorted(self.settings.groups.property_groups(own)):
            group = own.get(name) or orm.Group.find(self.user.db, name)
            if group is None:
                continue
            parsed[name] = parse_group_properties(group.properties or {})
            problems = parsed[name].problems + course_problems(parsed[name], self.settings)
            for problem in problems:
                # For the admins, in the site's language: the property is ignored, not fatal.
                self.log.warning(
                    "Group %s: %s", name, describe(problem, self.settings.default_language)
                )
        return parsed

    def visible_choices(self) -> tuple[Choice, ...]:
        last = (self.orm_spawner.user_options or {}).get("profile") if self.orm_spawner else None
        groups = [group.name for group in self.user.groups]
        today = datetime.now(ZoneInfo(self.settings.timezone)).date()
        return visible(groups, self.group_properties(), self.settings, today, last)

    async def poll(self) -> int | None:
        status: int | None = await super().poll()
        if status is not None and waiting_for_response(self):
            # JupyterHub 5.5 and 6.1 answer a start whose server died while the hub waited
            # for it to respond with a 500 "Exception is not set" (an InvalidStateError in
            # spawn_single_user). Until that wait ends, the server counts as alive: the
            # start then fails with JupyterHub's own "never showed up" message and is
            # cleaned up as usual.
            self.log.warning(
                "%s's server stopped while starting (status %s)", self.user.name, status
            )
            return None
        return status

    async def load_user_options(self) -> None:
        """Refuse what the user may not start, then let KubeSpawner apply the profile."""
        choices = self.visible_choices()
        decision = choose(choices, self.user_options or {})
        if isinstance(decision, Refused):
            REFUSALS.labels(reason=decision.code).inc()
            forgive_in_failure_count(self.handler)
            raise refusal(
                decision.code,
                self.language(),
                reason=decision.code,
                profile=decision.profile,
                option=decision.option,
            )
        # KubeSpawner evaluates profile_list again: it must see the list just checked, even
        # if a course's dates or properties change in between.
        self._checked_choices = choices
        try:
            await super().load_user_options()
        finally:
            self._checked_choices = ()
        SPAWNS.labels(profile=decision.choice.slug, size=decision.size.slug).inc()
