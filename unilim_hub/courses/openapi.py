"""The OpenAPI description of the course service's REST API (served at ``api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from ..policy.course_edit import MAX_DESCRIPTION_LENGTH, MAX_VALUE_LENGTH


def _switch(what: str, not_offered_when: str, kept: str) -> dict[str, Any]:
    """A course switch's schema: on, off, or unset (on)."""
    return {
        "type": ["string", "null"],
        "enum": ["on", "off", None],
        "description": (
            f"{what}; unset is on. Turning it on is refused (400) when {not_offered_when} "
            f"(see the course's `offered`). Off applies at each member's next start; {kept}"
        ),
    }


_SETTINGS = {
    "type": "object",
    "description": (
        "The course's settings: the course.* keys of its group's properties "
        "(docs: Group properties). Values are texts."
    ),
    "properties": {
        "course.profiles": {
            "type": "string",
            "description": "catalog profiles assigned to the course, comma-separated",
            "example": "python, spark",
        },
        "course.description": {
            "type": "string",
            "maxLength": MAX_DESCRIPTION_LENGTH,
            "description": "free text for the course's teachers; never interpreted",
        },
        "course.folder": _switch(
            "the course folder (~/courses/<course>) in its members' servers",
            "the admins turned course folders off",
            "the folder's volume stays, it is only no longer mounted",
        ),
        "course.s3": _switch(
            "the course's S3 data (its prefix in the courses bucket) in its members' credentials",
            "the admins turned S3 off",
            "no object is deleted",
        ),
    },
    "patternProperties": {
        r"^course\.[a-z0-9][a-z0-9_.-]*\.(tag|size|start|end)$": {
            "type": ["string", "null"],
            "maxLength": MAX_VALUE_LENGTH,
            "description": (
                "per assigned profile: an image tag allowed by the catalog, one of the "
                "profile's sizes, first and last day offered (YYYY-MM-DD)"
            ),
        }
    },
    "additionalProperties": False,
    "example": {
        "course.profiles": "python",
        "course.python.size": "large",
        "course.python.start": "2026-09-01",
        "course.python.end": "2027-01-31",
    },
}
_PROBLEM = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string", "description": "in the request's Accept-Language"},
    },
}
_COURSE = {
    "type": "object",
    "properties": {
        "course": {"type": "string", "example": "info101"},
        "group": {"type": "string", "example": "course-info101"},
        "settings": {"$ref": "#/components/schemas/Settings"},
        "problems": {
            "type": "array",
            "description": "what is wrong in the stored settings (each withdraws a profile)",
            "items": {"$ref": "#/components/schemas/Problem"},
        },
        "offered": {
            "type": "object",
            "description": (
                "per switch (course.folder, course.s3), whether the admins' configuration "
                "lets it be on; when false, the switch is off for every course"
            ),
            "additionalProperties": {"type": "boolean"},
            "example": {"course.folder": True, "course.s3": False},
        },
    },
}
_ERROR = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "message": {"type": "string"},
        "problems": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
    },
}
_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}


def _answer(description: str, schema: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return {"description": description, "content": content}


_ERRORS = {
    "403": _answer("not logged in, or not allowed to manage this course", "Error"),
    "404": _answer("no such course", "Error"),
}


def openapi(prefix: str) -> dict[str, Any]:
    change = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settings"}}},
    }
    changed = {
        "200": _answer("saved; the course as it is now", "Course"),
        "400": _answer("refused: nothing was saved; every problem is listed", "Error"),
        **_ERRORS,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "unilim-hub course service",
            "version": "1",
            "description": (
                "Teachers (and an LMS acting with a teacher's hub token) set up their "
                "course's environments. Send `Authorization: token <JupyterHub token>`. "
                "A teacher may manage the courses of their roles' "
                "custom:courses:manage!group=<course group> scopes; holders of the "
                "`groups` scope (admins) may manage every course. Changes apply at each "
                "student's next start. Messages follow Accept-Language (fr, en)."
            ),
        },
        "servers": [{"url": prefix.rstrip("/")}],
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
            "schemas": {
                "Settings": _SETTINGS,
                "Problem": _PROBLEM,
                "Course": _COURSE,
                "Error": _ERROR,
            },
        },
        "security": [{"token": []}],
        "paths": {
            "/api/courses": {
                "get": {
                    "summary": "The courses you may manage",
                    "responses": {"200": {"description": "course codes and their API URLs"}},
                }
            },
            "/api/courses/{code}": {
                "parameters": [_CODE],
                "get": {
                    "summary": "A course's settings and what is wrong in them",
                    "responses": {"200": _answer("the course", "Course"), **_ERRORS},
                },
                "put": {
                    "summary": "Replace the course's settings (keys left out are removed)",
                    "requestBody": change,
                    "responses": changed,
                },
                "patch": {
                    "summary": "Set the keys given (null removes one), keep the others",
                    "description": (
                        "Two teachers who change different keys at the same moment both "
                        "keep their change."
                    ),
                    "requestBody": change,
                    "responses": changed,
                },
            },
            "/api/courses/{code}/history": {
                "parameters": [_CODE],
                "get": {
                    "summary": "Who changed what and when, the newest first",
                    "responses": {"200": {"description": "the saved changes"}, **_ERRORS},
                },
            },
            "/api/courses/{code}/servers": {
                "parameters": [_CODE],
                "get": {
                    "summary": (
                        "The course's students and their servers: profile, room (the one "
                        "the server was placed in; null without rooms), since when, ready "
                        "or starting (server null: none running)"
                    ),
                    "responses": {"200": {"description": "one entry per server"}, **_ERRORS},
                },
            },
            "/api/status": {
                "get": {
                    "summary": "The admins' status (needs read:metrics and read:groups)",
                    "description": (
                        "Per group usage against quotas; per room: open, servers, nodes "
                        "ready / total, and the ready nodes' capacity and free (servers, "
                        "cpu in cores, memory in bytes), as of the last start; refusal "
                        "counts per reason; latest_refusals, the newest first (at most "
                        "100, since the hub started; null if the hub does not list them): "
                        "at (UTC), user, reason, the message the person read; wrong "
                        "group properties per group."
                    ),
                    "responses": {
                        "200": {"description": "usage, rooms, refusals, problems"},
                        "403": _answer("not an admin", "Error"),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }
