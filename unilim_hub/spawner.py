"""UnilimSpawner: KubeSpawner with unilim-hub's policy.

It adds configuration (the profile catalog, group quotas, rooms and storage) and asks the
policy core for every decision; everything else is KubeSpawner's own behaviour.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from jupyterhub import orm
from kubespawner import KubeSpawner
from traitlets import Any as AnyTrait
from traitlets import default

from . import admission, configuration, refusals, rooms, s3access, volumes
from .admission import Reservation
from .compat import PickerHook, PodCreationHook, forgive_in_failure_count, waiting_for_response
from .configurables import SpawnerTraits
from .errors import spawn_error
from .events import IndexedEventReflector, since
from .i18n import describe, negotiate, translate
from .manifests import profile_entry
from .metrics import SPAWNS
from .picker import render_picker
from .podqueue import Ticket, queue_progress
from .policy.models import ROOM_STATE, Settings
from .policy.placement import spread_key
from .policy.profiles import Choice, Chosen, Offer, choose, course_problems, offer
from .policy.properties import (
    CourseSwitches,
    GroupProperties,
    course_switches,
    parse_group_properties,
)
from .policy.refusal import Refusal
from .policy.untrusted import shown
from .policy.volumes import home_claim_name


class UnilimSpawner(SpawnerTraits, PickerHook, PodCreationHook, KubeSpawner):  # type: ignore[misc]  # upstream is untyped
    """KubeSpawner for teaching: profiles by group and course, rooms, quotas, NFS and S3."""

    @property
    def settings(self) -> Settings:
        """The validated baseline policy.

        UnilimAuthenticator stops the hub at start-up when the configuration is wrong; with
        another authenticator the first spawn finds out, and the user is told, not shown a
        traceback, while the hub log lists every problem.
        """
        try:
            return configuration.load(self.config)
        except configuration.UnilimConfigError as error:
            self.log.critical("%s", error)
            raise spawn_error(
                "spawn.misconfigured",
                self._browser_language("en"),
                reason="misconfigured",
                status=503,
            ) from None

    # JupyterHub's Dict trait refuses a REST start whose body is not a JSON object (`false`,
    # `"xl"`, a list) with a TraitError, a 500, before any code of ours runs; JupyterHub 5
    # counts it as a failed spawn. Any value is taken here and refused in load_user_options
    # with a 400 that says what is expected.
    user_options = AnyTrait(
        {},
        help="The options of the start request; checked by load_user_options, see START_OPTIONS.",
    )

    _checked_choices: tuple[Choice, ...] = ()
    _offered: Offer | None = None  # what _profile_list last drew the picker from

    @default("apply_user_options")
    def _apply_user_options_default(self) -> Any:
        # JupyterHub's default logs the request's raw keys (newlines included); ours are
        # checked and applied in load_user_options.
        return lambda spawner, user_options: None

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

    @default("pvc_name_template")
    def _home_claim_default(self) -> str:
        # One home per user, shared by their named servers (KubeSpawner's default gives
        # each named server its own); a safe DNS label, so no template field in it.
        return home_claim_name(self.user.name)

    @default("storage_access_modes")
    def _home_access_default(self) -> list[str]:
        # Named servers of one user may run on different nodes with the same home.
        return ["ReadWriteMany"]

    @default("profile_list")
    def _profile_list_default(self) -> Any:
        # A callable, so KubeSpawner evaluates it for the form and again at spawn time.
        return self._profile_list

    def _profile_list(self, spawner: UnilimSpawner) -> list[dict[str, Any]]:
        language = self.language()
        # During a start, the list the request was checked against (see load_user_options).
        if self._checked_choices:
            return [profile_entry(choice, language) for choice in self._checked_choices]
        properties = self.group_properties()
        self._offered = self.offer(properties)
        profiles = []
        for choice in self._offered.choices:
            profile = profile_entry(choice, language)
            profile["unilim"]["room_left"] = admission.room_hint(self, choice, properties)
            profiles.append(profile)
        return profiles

    @default("options_from_form")
    def _options_from_form_default(self) -> Any:
        return self._form_options

    def _form_options(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        # KubeSpawner's own logs every other form field's raw name: keep only ours.
        profile = (formdata.get("profile") or [""])[0]
        options = {"profile": profile} if profile else {}
        prefix = f"profile-option-{profile}--"
        for key, values in formdata.items():
            if profile and key.startswith(prefix) and values:
                options[key.removeprefix(prefix)] = values[0]
        return options

    def render_picker(self, profiles: list[dict[str, Any]]) -> str:
        """The spawn form (see :class:`~unilim_hub.compat.PickerHook`)."""
        nothing = None
        if not profiles:  # the real cause, in the picker and, if an admin's, in the log
            nothing = choose(self._offered or self.offer(), {})
            if isinstance(nothing, Refusal):
                self._log_cause(nothing)
        return render_picker(profiles, self.settings.default_language, nothing)

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
        groups = {
            name: own.get(name) or orm.Group.find(self.user.db, name)
            for name in self.settings.groups.property_groups(own)
        }
        parsed = {}
        for name, group in sorted(groups.items()):
            if group is None:
                continue
            parsed[name] = parse_group_properties(group.properties or {})
            problems = parsed[name].problems + course_problems(parsed[name], self.settings)
            for problem in problems:
                # For the admins, in the site's language: the property is ignored, not fatal.
                # Values come from whoever wrote the property (the course service too):
                # escaped and cut, so that they cannot forge or flood log lines.
                safe = replace(problem, params={k: shown(v) for k, v in problem.params.items()})
                self.log.warning(
                    "Group %s: %s", shown(name), describe(safe, self.settings.default_language)
                )
        return parsed

    _switches: CourseSwitches | None = None

    def course_switches(self) -> CourseSwitches:
        """The courses whose folder or S3 data a teacher switched off, as of this start
        (read again when the hub restarted since)."""
        if self._switches is None:
            self._switches = course_switches(self.group_properties(), self.settings.groups)
        return self._switches

    def offer(self, properties: dict[str, GroupProperties] | None = None) -> Offer:
        """What the user may start today, and what is hidden from them and why."""
        options = self.orm_spawner.user_options if self.orm_spawner else None
        last = options.get("profile") if isinstance(options, dict) else None
        groups = [group.name for group in self.user.groups]
        today = datetime.now(ZoneInfo(self.settings.timezone)).date()
        properties = self.group_properties() if properties is None else properties
        return offer(groups, properties, self.settings, today, last)

    def _log_cause(self, refused: Refusal) -> None:
        if refused.limit is not None:
            # For the admins, in the site's language: which property of which group.
            language = self.settings.default_language
            self.log.warning(
                "%s",
                translate(
                    "log.ceiling_hides", language, user=shown(self.user.name), **refused.params
                ),
            )

    _lost = False

    async def poll(self) -> int | None:
        status: int | None = await super().poll()
        if status is None:
            # After a hub restart: usage per group counted at once (KubeSpawner's poll has
            # started the view already when it is its pod reflector).
            admission.watch_soon(self)
        if status is None and await self._lost_with_its_node():
            return 1
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
        if status is None:
            s3access.keep_fresh(self, soon=True)  # after a hub restart too
        return status

    async def _lost_with_its_node(self) -> bool:
        """Whether the server's node is down (its room lost): then it is stopped, and its
        user can start again at once, in a room that is up."""
        if self._lost:  # found already (polls go on until the stop is done): once
            return True
        if not self.settings.rooms or self._starting_now():
            return False
        view = await admission.watched_view(self)
        node = admission.lost_node(self, view) if view is not None else None
        if node is None:
            return False
        self._lost = True
        rooms.report_lost(self, node, self.settings.rooms)
        # JupyterHub does not stop a server whose poll says it ended, so delete the pod now
        # (as KubeSpawner does for a pod that stopped), and at once: a lost node never
        # confirms a graceful deletion, the pod would stay Terminating.
        await self.stop(now=True)
        return True

    def _starting_now(self) -> bool:
        return self._starting is not None and not self._starting.done()

    def _start_request(self) -> object:
        """The options to check: ``user_options``, or the REST body when it is not an object.

        JupyterHub 6 answers most bodies that are not objects with a 400 itself, but takes
        ``false`` and ``0`` as "no body" and would start the last profile used.
        """
        request = getattr(self.handler, "request", None)
        if request is not None and request.method == "POST" and "/api/" in request.path:
            try:
                body = json.loads(request.body or b"null")
            except ValueError:
                body = None  # JupyterHub refuses a body that is not JSON before us
            if body is not None and not isinstance(body, dict):
                return body
        return self.user_options if self.user_options is not None else {}

    async def load_user_options(self) -> None:
        """Refuse what the user may not start, then let KubeSpawner apply the profile."""
        properties = self.group_properties()  # parsed once per start
        found = self.offer(properties)
        decision = choose(found, self._start_request())
        if isinstance(decision, Refusal):
            self._refuse(decision)
        # KubeSpawner evaluates profile_list again: it must see the list just checked, even
        # if a course's dates or properties change in between.
        self._checked_choices = found.choices
        try:
            await super().load_user_options()
        finally:
            self._checked_choices = ()
        await self._admit(decision, properties)
        self._switches = course_switches(properties, self.settings.groups)
        volumes.size_home(self, properties)
        SPAWNS.labels(profile=decision.choice.slug, size=decision.size.slug).inc()

    def _refuse(self, decision: Refusal) -> NoReturn:
        language = self.language()
        message = translate(decision.code, language, **decision.params)
        refusals.count(self.user.name, decision.code, message)
        self._log_cause(decision)
        forgive_in_failure_count(self.handler)
        raise spawn_error(
            decision.code, language, reason=decision.code, status=decision.status, **decision.params
        )

    # Admission: quotas, cluster capacity and the pod-creation queue (unilim_hub/admission.py).
    _reservation: Reservation | None = None
    _ticket: Ticket | None = None
    _starting: asyncio.Future[Any] | None = None
    _start_began = 0.0
    _creating_pod = False

    async def _admit(self, decision: Chosen, properties: dict[str, GroupProperties]) -> None:
        """Reserve room for the server in its charged group and on the cluster, or refuse."""
        self._reservation = await admission.reserve(self, decision, properties)
        placed = self._reservation.placed if self._reservation else None
        self._room = placed.room.name if placed else None

    # The room the running server was placed in, kept in the hub's database with the
    # spawner's state: the course service shows it to the course's teachers.
    _room: str | None = None

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self._room:
            state[ROOM_STATE] = self._room
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        room = state.get(ROOM_STATE)
        self._room = room if isinstance(room, str) else None

    def clear_state(self) -> None:
        super().clear_state()
        self._room = None

    def start(self) -> asyncio.Future[Any]:
        self._start_began = time.monotonic()
        self._reservation = self._ticket = None
        self._lost = False
        future: asyncio.Future[Any] = super().start()
        self._starting = future
        future.add_done_callback(self._release_if_failed)
        return future

    def _release_if_failed(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            admission.release(self)
        else:
            s3access.keep_fresh(self)

    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now)
        finally:
            # KubeSpawner also stops a conflicting pod while creating: not a release.
            if not self._creating_pod:
                admission.release(self)
                await s3access.stop(self)

    async def get_pod_manifest(self) -> Any:
        pod = await volumes.prepare(self, await super().get_pod_manifest())
        pod = await s3access.attach(self, pod)
        return admission.mark(pod, self._reservation, spread_key(self.settings.rooms))

    async def create_pod(self, pod: Any, attempt: Callable[[], Awaitable[bool]]) -> bool:
        """Create the pod through the hub's queue (called by KubeSpawner's start)."""
        self._creating_pod = True
        try:
            return await admission.create_pod(self, pod, attempt)
        finally:
            self._creating_pod = False

    async def _start_watching_pods(self, replace: bool = False) -> Any:
        """KubeSpawner's shared pod reflector: the hub's view of the cluster's pods when it
        sees every pod KubeSpawner's would, so that each pod is watched and decoded once
        (unilim_hub/cluster.py), else KubeSpawner's own."""
        if not admission.shares_pod_watch(self):
            return await super()._start_watching_pods(replace)
        return await admission.pod_watch(self, restart=replace)

    @property
    def pod_reflector(self) -> Any:
        """The reflector :meth:`_start_watching_pods` started (``None`` before)."""
        if not admission.shares_pod_watch(self):
            return super().pod_reflector
        return admission.shared_pod_watch(self)

    async def _start_watching_events(self, replace: bool = False) -> Any:
        """KubeSpawner's shared event reflector, indexed by pod (unilim_hub/events.py)."""
        return await self._start_reflector(
            kind="events",
            reflector_class=IndexedEventReflector,
            fields={"involvedObject.kind": "Pod"},
            omit_namespace=self.enable_user_namespaces,
            replace=replace,
        )

    @property
    def events(self) -> list[dict[str, Any]]:
        """This server's pod events since the start began, as KubeSpawner's, without
        sorting the whole namespace's events at each call."""
        reflector = self.event_reflector
        if not isinstance(reflector, IndexedEventReflector):
            return list(super().events)
        return since(reflector.of_pod(self.namespace, self.pod_name), self._last_event)

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        async for event in queue_progress(self):
            yield event
        for event in s3access.notices(self):
            yield event
        async for event in super().progress():
            yield event
