"""Site-wide settings shared by the spawner, the authenticator and the course service."""

from __future__ import annotations

from traitlets import List, Unicode
from traitlets.config import Configurable


class UnilimSite(Configurable):
    """How the university names things, and the language people read by default."""

    default_language = Unicode(
        "fr",
        config=True,
        help="""
        Language of messages when the browser asks for neither French nor English,
        and of hub log messages: `fr` or `en`.
        """,
    )

    timezone = Unicode(
        "Europe/Paris",
        config=True,
        help="""
        Time zone of course dates (an IANA name): a course profile whose `end` is
        2027-01-31 is offered until midnight that day in this zone.
        """,
    )

    affiliation_groups = List(
        ["student", "staff", "faculty"],
        config=True,
        help="""
        The JupyterHub groups that say who a person is (affiliations such as students or
        staff), as the authenticator creates them from the SSO claims. Profiles and
        quotas may name these groups, admin groups, and course groups.
        """,
    )

    course_prefix = Unicode(
        "course-",
        config=True,
        help="""
        Prefix of course groups: members of `course-info101` follow course `info101`.
        Course groups come from SSO at every login; their group properties hold the
        course's profiles (see the admin guide).
        """,
    )

    teacher_prefix = Unicode(
        "teacher-",
        config=True,
        help="""
        Prefix of teacher-of-course groups: members of `teacher-info101` teach course
        `info101` and may assign its profiles.
        """,
    )
