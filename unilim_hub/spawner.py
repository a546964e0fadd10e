"""UnilimSpawner: KubeSpawner with unilim-hub's policy.

It adds configuration (the profile catalog, group quotas, rooms and storage) and asks the
policy core for every decision; everything else is KubeSpawner's own behaviour.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jupyterhub import orm
from kubespawner import KubeSpawner
from traitlets import Bool, CaselessStrEnum, Dict, Int, List, Unicode, Union, default

from . import admission, settings
from .admission import Reservation, Ticket
from .compat import PodCreationHook
from .i18n import describe, negotiate
from .metrics import REFUSALS, SPAWNS
from .policy.models import Settings
from .policy.profiles import Choice, Chosen, Refused, choose, course_problems, visible
from .policy.properties import GroupProperties, parse_group_properties
from .profile_list import kubespawner_profile, render_picker
from .refusals import forgive_in_failure_count, refusal


class UnilimSpawner(PodCreationHook, KubeSpawner):  # type: ignore[misc]  # upstream is untyped
    """KubeSpawner for teaching: profiles by group and course, rooms, quotas, NFS and S3."""

    profile_catalog: List[Any] = List(
        config=True,
        help="""
        The catalog of environments. Each profile is a mapping with:

        - `slug` (required): a short name, e.g. `python`.
        - `display_name` (required) and `description`: a text, or `{fr: ..., en: ...}`.
        - `image` (required): the image repository, without tag.
        - `tags`: the allowed tags of the image; the first is the default.
          `image: repo:tag` without `tags` allows that one tag.
        - `sizes` (required, at least one): mappings with `slug`, `cpu_guarantee`,
          `cpu_limit`, `mem_guarantee`, `mem_limit` (`2`, `500m`; `4G`, `512M`),
          optional `gpu` and `display_name`. The first size is the default.
        - `groups`: the groups allowed to pick it (affiliations, admin or course groups).
        - `course_only: true`: shown only to the members of courses it is assigned to.
        - `default: true`: preselected when the user has no previous choice (at most one).

        Example (Helm values, `hub.config.UnilimSpawner.profile_catalog`):

            - slug: python
              display_name: {fr: "Python (science des données)", en: "Python (data science)"}
              image: quay.io/jupyter/scipy-notebook
              tags: ["2025-10-20"]
              groups: [student, staff, faculty]
              default: true
              sizes:
                - {slug: small, cpu_guarantee: 0.2, cpu_limit: 2, mem_guarantee: 1G, mem_limit: 2G}
        """,
    )

    group_quotas = Dict(
        config=True,
        help="""
        Limits per group, as a mapping from group name to a mapping of:

        - `servers`: servers of the group's members running at once;
        - `cpu`, `memory`: the sum of the guarantees of those servers;
        - `server_cpu_limit`, `server_mem_limit`: the most one server may ask for;
        - `priority`: when a user is in several groups with quotas, the one with the
          highest priority is charged (default 0).

        Any field may be left out (no limit of that kind). Admins override fields at run
        time with the group properties `quota.<field>` in the admin panel, e.g.
        `quota.servers = 150`.

            student: {servers: 800, cpu: 160, memory: 1600G, server_mem_limit: 4G, priority: 10}
            course-info101: {servers: 150, priority: 20}
        """,
    )

    rooms: List[Any] = List(
        config=True,
        help="""
        The server rooms the cluster stretches over. Each room is a mapping with `name`,
        `node_selector` (the node labels that pick this room's nodes, never empty),
        an optional `display_name`, and `maintenance: true` to stop placing new servers
        there (running servers are left alone).

            - {name: salle-a, node_selector: {topology.kubernetes.io/zone: salle-a}}
            - {name: salle-b, node_selector: {topology.kubernetes.io/zone: salle-b}}
        """,
    )

    home_storage_class = Unicode(
        "",
        config=True,
        help="Storage class of home volumes (NFS); empty for the cluster's default class.",
    )

    home_size = Union(
        [Unicode(), Int()],
        default_value="10G",
        config=True,
        help="Size of each user's home volume, e.g. `10G`. unilim-hub never deletes home volumes.",
    )

    course_storage_class = Unicode(
        "",
        config=True,
        help="Storage class of course folders (NFS, ReadWriteMany); empty for the default class.",
    )

    course_size = Union(
        [Unicode(), Int()],
        default_value="50G",
        config=True,
        help="Size of each course's shared folder, e.g. `50G`.",
    )

    s3_mode = Unicode(
        "off",
        config=True,
        help="""
        How user servers get S3 credentials: `off`; `sts`, the hub asks the S3 server for
        temporary credentials limited to the user's prefix and their courses (read-only);
        or `web-identity`, the server exchanges the user's SSO token itself.
        """,
    )

    s3_endpoint = Unicode(
        "",
        config=True,
        help="URL of the S3 server (MinIO in production), e.g. `https://s3.example.org`.",
    )

    s3_users_bucket = Unicode(
        "unilim-users",
        config=True,
        help="Bucket of personal objects; each user has the prefix `users/<name>/`.",
    )

    s3_courses_bucket = Unicode(
        "unilim-courses",
        config=True,
        help="Bucket of course data, a prefix `<course>/` per course, read-only to students.",
    )

    pod_creation_concurrency = Int(
        10,
        min=1,
        config=True,
        help="""
        Pod creations the hub sends to the Kubernetes API server at once. During a class
        start the other starts wait in a first-come, first-served queue and their users
        see their position on the start page. Too high, and a burst of creations times
        out at the API server (each a failed start); too low, and starts wait longer
        than needed. 10 created 300 light pods in about 15 s on the test platform (see
        the operator guide, "The class-start rush").

        .. versionadded:: 0.2
        """,
    )

    capacity_check = Bool(
        True,
        config=True,
        help="""
        Refuse a start at once, with a message, when no healthy node has the CPU, memory
        and a free pod slot the server needs (or the cluster as a whole does not, counting
        the starts in flight), instead of leaving a Pending pod until the start times out.
        Needs the hub to list and watch nodes (and pods, see `cluster_pods_scope`).

        .. versionadded:: 0.2
        """,
    )

    cluster_pods_scope = CaselessStrEnum(
        ["cluster", "namespace"],
        "cluster",
        config=True,
        help="""
        Which pods the hub watches for quotas and capacity: `cluster` (every namespace:
        the capacity check counts every pod on a node, as the scheduler does; the hub's
        service account needs a ClusterRole to list and watch pods) or `namespace` (only
        the user pods' namespace: no cluster-wide read, capacity approximate).

        .. versionadded:: 0.2
        """,
    )

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
        if self._checked_choices:
            return [kubespawner_profile(choice, language) for choice in self._checked_choices]
        properties = self.group_properties()
        profiles = []
        for choice in self.visible_choices(properties):
            profile = kubespawner_profile(choice, language)
            profile["unilim"]["room_left"] = admission.room_hint(self, choice, properties)
            profiles.append(profile)
        return profiles

    def _render_options_form(self, profile_list: list[dict[str, Any]]) -> str:
        # Replaces KubeSpawner's form (rendered without autoescaping, in one language).
        profiles = self._get_initialized_profile_list(profile_list)
        return render_picker(profiles, self.settings.default_language)

    def language(self) -> str:
        """The user's language: the browser's during a request, else the site default."""
        return self._browser_language(self.settings.default_language)

    def _browser_language(self, default: str) -> str:
        request = getattr(self.handler, "request", None)
        header = request.headers.get("Accept-Language") if request is not None else None
        return negotiate(header, default)

    def group_properties(self) -> dict[str, GroupProperties]:
        """Our keys in the properties of the user's groups and of the courses they teach."""
        naming = self.settings.groups
        groups = {group.name: group for group in self.user.groups}
        # A teacher is usually not a member of the course group they teach: read it too.
        for name in list(groups):
            course = naming.taught_course_of(name)
            if course and (course_group := naming.course_prefix + course) not in groups:
                groups[course_group] = orm.Group.find(self.user.db, course_group)
        parsed = {}
        for name, group in sorted(groups.items()):
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

    def visible_choices(
        self, properties: dict[str, GroupProperties] | None = None
    ) -> tuple[Choice, ...]:
        last = (self.orm_spawner.user_options or {}).get("profile") if self.orm_spawner else None
        groups = [group.name for group in self.user.groups]
        today = datetime.now(ZoneInfo(self.settings.timezone)).date()
        properties = self.group_properties() if properties is None else properties
        return visible(groups, properties, self.settings, today, last)

    async def poll(self) -> int | None:
        status: int | None = await super().poll()
        if status is not None and self._waiting_for_response:
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
        properties = self.group_properties()
        choices = self.visible_choices(properties)
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
        await self._admit(decision, properties)
        SPAWNS.labels(profile=decision.choice.slug, size=decision.size.slug).inc()

    # Admission: quotas, cluster capacity and the pod-creation queue (unilim_hub/admission.py).
    _reservation: Reservation | None = None
    _ticket: Ticket | None = None
    _starting: asyncio.Future[Any] | None = None
    _start_began = 0.0
    _creating_pod = False

    async def _admit(self, decision: Chosen, properties: dict[str, GroupProperties]) -> None:
        """Reserve room for the server in its charged group and on the cluster, or refuse."""
        self._reservation = await admission.reserve(self, decision, properties)

    def start(self) -> asyncio.Future[Any]:
        self._start_began = time.monotonic()
        self._reservation = self._ticket = None
        future: asyncio.Future[Any] = super().start()
        self._starting = future
        future.add_done_callback(self._release_if_failed)
        return future

    def _release_if_failed(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            admission.release(self)

    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now)
        finally:
            # KubeSpawner also stops a conflicting pod while creating: not a release.
            if not self._creating_pod:
                admission.release(self)

    async def get_pod_manifest(self) -> Any:
        pod = await super().get_pod_manifest()
        return admission.mark(pod, self._reservation)

    async def create_pod(self, pod: Any, attempt: Callable[[], Awaitable[bool]]) -> bool:
        """Create the pod through the hub's queue (called by KubeSpawner's start)."""
        self._creating_pod = True
        try:
            return await admission.create_pod(self, pod, attempt)
        finally:
            self._creating_pod = False

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        async for event in admission.queue_progress(self):
            yield event
        async for event in super().progress():
            yield event
