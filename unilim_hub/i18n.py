"""Message catalogs: every text a person reads from unilim-hub, in French and English."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from importlib.resources import files

from .policy.models import LANGUAGES, Size
from .policy.problems import Problem
from .policy.quantities import format_cpu, format_memory


@cache
def catalog(language: str) -> Mapping[str, str]:
    text = files("unilim_hub").joinpath("locales", f"{language}.json").read_text("utf-8")
    messages: dict[str, str] = json.loads(text)
    return messages


def translate(code: str, language: str, **params: object) -> str:
    """The message ``code`` in ``language``, with its placeholders filled."""
    messages = catalog(language if language in LANGUAGES else "en")
    message = messages[code].format(**params)
    if params.get("suggestion"):
        message += " " + messages["did_you_mean"].format(**params)
    return message


def describe(problem: Problem, language: str) -> str:
    """One problem as an admin reads it: the key, then what is wrong and what to do."""
    return f"{problem.key}: {translate(problem.code, language, **problem.params)}"


def negotiate(accept_language: str | None, default: str) -> str:
    """The language to answer in, from an ``Accept-Language`` header (``fr-FR,fr;q=0.9,en``)."""
    ranked = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        if weight <= 0:  # q=0 means "not this one"
            continue
        ranked.append((-weight, index, tag.split("-")[0].lower()))
    for _, _, language in sorted(ranked):
        if language in LANGUAGES:
            return language
    return default


def terminal_language(default: str = "en") -> str:
    """The language of command-line output, from the usual locale variables."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(name, "")
        if value and value not in ("C", "POSIX", "C.UTF-8"):
            language = value.split("_")[0].split(".")[0].lower()
            return language if language in LANGUAGES else default
    return default


# How people write memory sizes: "4 Go" in French, "4 GB" in English (powers of 1024 both).
_UNITS = {
    "fr": {"K": "Ko", "M": "Mo", "G": "Go", "T": "To"},
    "en": {"K": "KB", "M": "MB", "G": "GB", "T": "TB"},
}


def human_memory(num_bytes: int, language: str) -> str:
    """``4 Go`` / ``4 GB``."""
    text = format_memory(num_bytes)
    unit = _UNITS.get(language, _UNITS["en"]).get(text[-1])
    return f"{text[:-1]} {unit}" if unit else text


def size_summary(size: Size, language: str) -> str:
    """What a size gives, as the picker shows it: ``2 CPU · 4 GB RAM``."""
    return translate(
        "size.summary" if not size.gpu else "size.summary_gpu",
        language,
        cpu=format_cpu(size.cpu_limit),
        memory=human_memory(size.mem_limit, language),
        gpu=size.gpu,
    )


def size_label(size: Size, language: str) -> str:
    return f"{size.display_name.get(language)} — {size_summary(size, language)}"
