"""The configuration surface of unilim-hub: every setting, its default and its help text.

Plain ``HasTraits`` classes on the ground floor. ``UnilimSpawner`` and
``UnilimAuthenticator`` inherit theirs; each names the upstream class its adapter extends,
so that that class's sections (``c.KubeSpawner``, ``c.Authenticator``) are read too. The
configuration reader (the hub's start-up and ``unilim-hub check-config``) and the docs'
configuration reference read these classes without importing an adapter. Each default is
owned by the policy model it configures.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from kubespawner import KubeSpawner
from oauthenticator.generic import GenericOAuthenticator
from traitlets import (
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    HasTraits,
    Int,
    List,
    Unicode,
    Union,
    default,
)
from traitlets.config import Configurable

from .policy.models import ClaimRules, GroupNaming, S3Mode, S3Settings, Settings, Storage
from .policy.problems import AUTHENTICATOR, SITE, SPAWNER
from .policy.quantities import format_memory


class SettingsSection(HasTraits):
    """A group of unilim-hub settings: the section it is configured in, and what it extends.

    A plain ``HasTraits``, not a ``Configurable``: traitlets makes a configuration section
    of every ``Configurable`` class, and these settings have one name each, the adapter's
    (``c.UnilimSpawner.rooms``), in the hub, ``check-config`` and the docs alike.
    """

    section: ClassVar[str]  # e.g. "UnilimSpawner": c.UnilimSpawner.<name>, hub.config.UnilimSpawner
    # The upstream class the adapter extends: its sections (c.KubeSpawner, ...) apply too.
    upstream: ClassVar[type[Configurable] | None] = None


class UnilimSite(SettingsSection):
    """How the university names things, and the language people read by default."""

    section: ClassVar[str] = SITE

    default_language = Unicode(
        Settings.default_language,
        config=True,
        help="""
        Language of messages when the browser asks for neither French nor English,
        and of hub log messages: `fr` or `en`.
        """,
    )

    timezone = Unicode(
        Settings.timezone,
        config=True,
        help="""
        Time zone of course dates (an IANA name): a course profile whose `end` is
        2027-01-31 is offered until midnight that day in this zone.
        """,
    )

    affiliation_groups = List(
        sorted(GroupNaming.affiliations),
        config=True,
        help="""
        The JupyterHub groups that say who a person is (affiliations such as students or
        staff), as the authenticator creates them from the SSO claims. Profiles and
        quotas may name these groups, admin groups, and course groups.
        """,
    )

    course_prefix = Unicode(
        GroupNaming.course_prefix,
        config=True,
        help="""
        Prefix of course groups: members of `course-info101` follow course `info101`.
        Course groups come from SSO at every login; their group properties hold the
        course's profiles (see the admin guide).
        """,
    )

    teacher_prefix = Unicode(
        GroupNaming.teacher_prefix,
        config=True,
        help="""
        Prefix of teacher-of-course groups: members of `teacher-info101` teach course
        `info101` and may assign its profiles.
        """,
    )


class SpawnerTraits(SettingsSection):
    """What UnilimSpawner adds to KubeSpawner: the catalog, group quotas, rooms and storage."""

    section: ClassVar[str] = SPAWNER
    upstream = KubeSpawner

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
        - `server_cpu_limit`, `server_mem_limit`, `server_gpu_limit`: the most one server
          may ask for (CPU, memory, GPUs). A user
          in several groups gets, per field, the most generous value among the groups
          that set it (a group that leaves a field out has no say); a course group's
          values apply to that course's profiles only;
        - `named_servers`: the named servers one user may have besides the default one
          (`0`: none), the most generous among the user's groups that set it; it
          applies once `JupyterHub.named_server_limit_per_user` is
          `unilim_hub.named_servers.by_group(default=...)`, whose `default` applies to
          users none of whose groups sets it;
        - `priority`: when a user is in several groups with quotas, the one with the
          highest priority is charged (default 0).
        - `home_size`: the size of each member's home volume (default `home_size`); a
          user in several groups gets the largest, and a home never shrinks.

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
        an optional `display_name`, `maintenance: true` to stop placing new servers
        there (running servers are left alone), and `weight` (a whole number, 1 by
        default): each room's share of the servers, relative to the others'. New servers
        go to the open room with the fewest servers for its weight (operator guide, "Two
        rooms").

            - {name: salle-a, node_selector: {topology.kubernetes.io/zone: salle-a}}
            - {name: salle-b, node_selector: {topology.kubernetes.io/zone: salle-b}}

        .. versionchanged:: 0.2
            `weight`; the rooms are used for placement.
        """,
    )

    degraded_server_limit = Int(
        None,
        allow_none=True,
        config=True,
        help="""
        While a room is down or in maintenance, the most servers the rooms still open may
        hold; further starts are refused with a message saying so. `None` (the default):
        only their capacity limits them. With 2 workers of `maxPods` 250 in a room, one
        room holds at most 500 pods, system pods included.

        .. versionadded:: 0.2
        """,
    )

    lost_node_grace = Float(
        60.0,
        min=0,
        config=True,
        help="""
        Seconds a node must have been not Ready (its room down, most often) before the
        servers on it count as lost: the hub then stops them, says so in its log and
        metrics, and their users can start again in a room that is up. Kubernetes itself
        waits 300 s before evicting such pods; a node that comes back within this time
        keeps its servers.

        .. versionadded:: 0.2
        """,
    )

    delete_pvc = Bool(
        False,
        config=True,
        help="""
        Delete a user's volume when the user or a named server is deleted. KubeSpawner does
        so by default; unilim-hub never does unless an admin sets this: a student's home
        must not go with an account clean-up.

        .. versionchanged:: 0.1
            The default is `False` (KubeSpawner's is `True`).
        """,
    )

    home_storage_class = Unicode(
        "",
        config=True,
        help="Storage class of home volumes (NFS); empty for the cluster's default class.",
    )

    home_size = Union(
        [Unicode(), Int()],
        default_value=format_memory(Storage.home_size),
        config=True,
        help="Size of each user's home volume, e.g. `10G`. unilim-hub never deletes home volumes.",
    )

    course_storage_class = Unicode(
        "",
        config=True,
        help="Storage class of course folders (NFS, ReadWriteMany); empty for the default class.",
    )

    course_folders = Bool(
        True,
        config=True,
        help="""
        Mount one shared folder per course at `~/courses/<course>`: read-write for the
        course's teachers (`teacher-<course>`), read-only for its students
        (`course-<course>`). Each course's volume (ReadWriteMany, `course_storage_class`)
        is created the first time a member starts a server. Needs the hub to manage
        volumes (`storage_pvc_ensure`, Zero to JupyterHub's `singleuser.storage.type:
        dynamic`).

        .. versionadded:: 0.3
        """,
    )

    course_size = Union(
        [Unicode(), Int()],
        default_value=format_memory(Storage.course_size),
        config=True,
        help="Size of each course's shared folder, e.g. `50G`.",
    )

    s3_mode = Unicode(
        S3Mode.OFF.value,
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
        S3Settings.users_bucket,
        config=True,
        help="Bucket of personal objects; each user has the prefix `users/<name>/`.",
    )

    s3_courses_bucket = Unicode(
        S3Settings.courses_bucket,
        config=True,
        help="Bucket of course data, a prefix `<course>/` per course, read-only to students.",
    )

    s3_region = Unicode(
        S3Settings.region,
        config=True,
        help="Region the S3 server signs for (MinIO's `MINIO_SITE_REGION`; `us-east-1` if unset).",
    )

    s3_access_key = Unicode(
        config=True,
        help="""
        The hub's own S3 access key, allowed to call STS `AssumeRole` (for MinIO, a user
        with the policies the servers' credentials may be narrowed from). Default: the
        environment variable `UNILIM_S3_ACCESS_KEY` (from a Kubernetes Secret). Never
        given to user servers.

        .. versionadded:: 0.3
        """,
    ).tag(secret=True)

    s3_secret_key = Unicode(
        config=True,
        help="""
        The secret key of `s3_access_key`. Default: the environment variable
        `UNILIM_S3_SECRET_KEY`.

        .. versionadded:: 0.3
        """,
    ).tag(secret=True)

    @default("s3_access_key")
    def _s3_access_key_default(self) -> str:
        return os.environ.get("UNILIM_S3_ACCESS_KEY", "")

    @default("s3_secret_key")
    def _s3_secret_key_default(self) -> str:
        return os.environ.get("UNILIM_S3_SECRET_KEY", "")

    s3_credentials_duration = Int(
        S3Settings.credentials_duration,
        config=True,
        help="""
        Seconds the S3 credentials of one issue last (900 to 43,200, the range STS
        servers accept). The hub issues new ones while the server runs, so this bounds
        how long a leaked key stays usable, not how long a server may run.

        .. versionadded:: 0.3
        """,
    )

    s3_refresh_interval = Int(
        0,
        config=True,
        help="""
        Seconds between two issues of S3 credentials for a running server, at most half
        of `s3_credentials_duration` so that a failed renewal is retried before the
        credentials in use expire. 0: half of `s3_credentials_duration`.

        .. versionadded:: 0.3
        """,
    )

    s3_strict = Bool(
        S3Settings.strict,
        config=True,
        help="""
        When the S3 server cannot issue credentials at start (down, refusing): `False`,
        the server starts without S3 and the user reads a notice on the start page (the
        hub keeps trying in the background); `True`, the start fails with a message
        saying S3 is unavailable.

        .. versionadded:: 0.3
        """,
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


class AuthenticatorTraits(SettingsSection):
    """What UnilimAuthenticator adds to GenericOAuthenticator: the issuer and the claim rules."""

    section: ClassVar[str] = AUTHENTICATOR
    upstream = GenericOAuthenticator

    oidc_issuer = Unicode(
        "",
        config=True,
        help="""
        The OpenID Connect issuer, e.g. `https://sso.example.org/realms/unilim` for Keycloak.
        `authorize_url`, `token_url`, `userdata_url` and `logout_redirect_url` that are not
        set are read from its discovery document (`/.well-known/openid-configuration`).
        The hub fetches it in the background when it starts and again at a login until it
        succeeds, so an IdP that is down does not stop the hub; a login while it is down
        shows a page saying so.
        """,
    )

    groups_claim = Unicode(
        ClaimRules.groups_claim,
        config=True,
        help="""
        The claim listing the person's SSO groups (Keycloak's group membership mapper);
        a dotted name reads a nested claim (`realm_access.roles`). Values are compared
        exactly, never folded: a Keycloak top-level path `/course-info101` is the group
        `course-info101`, while nested paths (`/clubs/hub-admins`), other capitals and
        Unicode look-alikes are other groups. Only affiliation groups, admin groups, course
        groups (`UnilimSite.course_prefix`) and teacher groups (`UnilimSite.teacher_prefix`)
        become JupyterHub groups; others are ignored and logged. Empty: read no groups
        claim. When `auth_state_groups_key` is set, the group values are read there instead.
        """,
    )

    oidc_endpoint_hosts = List(
        Unicode(),
        config=True,
        help="""
        Other hosts than the issuer's that the discovery document may name for the
        endpoints (e.g. `oauth2.googleapis.com` for Google). Endpoints must be `https://`
        and on the issuer's host or one of these; otherwise the hub refuses them, since the
        client secret, the code and the PKCE verifier would travel there. Plain `http://`
        is accepted only for an `http://` issuer on a loopback address (a test IdP).
        """,
    )

    idp_outage_grace = Float(
        3600.0,
        config=True,
        help="""
        Seconds people stay logged in while the identity provider does not answer (down,
        or server errors), counted from the first failed refresh. During that time they
        keep the groups and roles of their last successful refresh, never more; after it,
        every refresh logs them out (they log in again once the IdP answers). The same
        holds when the hub starts while the IdP is down. 0: log out at the first failure.
        """,
    )

    affiliation_claim = Unicode(
        ClaimRules.affiliation_claim,
        config=True,
        help="""
        The claim with the person's affiliations (eduPersonAffiliation values such as
        `student`, `faculty`, `staff`; scoped values `student@unilim.fr` are accepted).
        Each value becomes the affiliation group of the same name, or the one
        `affiliation_map` gives; other values are ignored. Empty: read no affiliation claim.
        """,
    )

    affiliation_map = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="""
        Affiliation values that map to an affiliation group of another name, e.g.
        `{"employee": "staff", "researcher": "faculty"}`. Each group must be one of
        `UnilimSite.affiliation_groups`.
        """,
    )

    teacher_scopes = List(
        Unicode(),
        list(ClaimRules.teacher_scopes),
        config=True,
        help="""
        The scopes of the role a teacher gets for each course taught (a member of
        `teacher-info101` gets the role `teacher-info101`). `{course}` is replaced by the
        course code and `{course_group}` by the course group's name; any other replacement
        field (`{course.code}`, `{course!r}`) stops the hub at start-up. Every `custom:` scope
        must be declared in `JupyterHub.custom_scopes`; the hub refuses to start otherwise.
        """,
    )


# The classes whose settings unilim-hub reads and validates, in the order they are reported.
CONFIGURABLES: tuple[type[SettingsSection], ...] = (UnilimSite, SpawnerTraits, AuthenticatorTraits)
