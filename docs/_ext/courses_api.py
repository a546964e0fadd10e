"""Generate the course service's API reference from its OpenAPI description.

The page is the same description the service serves at ``api/openapi.json``, rendered
as Markdown, so the docs and the service cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path

from config_reference import write_generated
from sphinx.application import Sphinx

from unilim_hub.courses.openapi import openapi

TARGET = Path("reference") / "generated" / "courses-api.md"
PREFIX = "/services/courses/"
METHODS = ("get", "put", "patch", "post", "delete")


def _responses(operation: dict) -> list[str]:
    return [
        f"  - `{status}`: {answer.get('description', '')}"
        for status, answer in operation.get("responses", {}).items()
    ]


def render() -> str:
    described = openapi(PREFIX)
    info = described["info"]
    lines = [
        "# Course service API",
        "",
        info["description"],
        "",
        f"Base URL: `https://<hub>{PREFIX.rstrip('/')}`. The full OpenAPI "
        f"{described['openapi']} description is served at `{PREFIX}api/openapi.json`.",
        "",
        "*This page is generated from that description.*",
        "",
    ]
    for path, item in described["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            lines += [f"## `{method.upper()} {path}`", "", operation["summary"], ""]
            if "description" in operation:
                lines += [operation["description"], ""]
            if "requestBody" in operation:
                lines += ["Body: the course settings (JSON object, see below).", ""]
            lines += ["Answers:", "", *_responses(operation), ""]
    settings = described["components"]["schemas"]["Settings"]
    lines += [
        "## Course settings",
        "",
        settings["description"],
        "",
        "```json",
        json.dumps(settings["example"], indent=2),
        "```",
        "",
        "A refused change answers `400` with every problem (`key`, `code`, `message` in the "
        "request's language), and saves nothing:",
        "",
        "```json",
        json.dumps(
            {
                "status": 400,
                "message": "Nothing was saved for the course info101: see each problem.",
                "problems": [
                    {
                        "key": "course.python.size",
                        "code": "course.unknown_size",
                        "message": "'huge' is not a size of this profile (standard, large): "
                        "the course does not offer it until this is fixed.",
                    }
                ],
            },
            indent=2,
        ),
        "```",
        "",
    ]
    return "\n".join(lines)


def generate(app: Sphinx) -> None:
    write_generated(app, TARGET, render())


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
