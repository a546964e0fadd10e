"""The spawn page: KubeSpawner's ``profile_list`` entries and the picker that shows them.

Each visible choice becomes one ``profile_list`` entry (its overrides from
:mod:`unilim_hub.manifests`), and the picker renders the entries as cards, in both
languages, with autoescaping (KubeSpawner's own form has none).
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader

from .i18n import translate
from .manifests import profile_override, size_override
from .policy.models import LANGUAGES, Size
from .policy.profiles import SIZE_OPTION, Choice
from .policy.quantities import format_cpu, format_memory

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


def profile_entry(choice: Choice, language: str) -> dict[str, Any]:
    """One ``profile_list`` entry: the image pinned, and the sizes as a profile option.

    KubeSpawner's own fields are in ``language``; the ``unilim`` key carries what our
    picker shows, in both languages, for the browser to choose from.
    """
    sizes = {
        size.slug: {
            "display_name": size_label(size, language),
            "default": index == 0,
            "kubespawner_override": size_override(size),
        }
        for index, size in enumerate(choice.sizes)
    }
    return {
        "slug": choice.slug,
        "display_name": choice.display_name(language),
        "description": choice.description.get(language),
        "default": choice.default,
        "kubespawner_override": profile_override(choice),
        "profile_options": {
            SIZE_OPTION: {"display_name": translate("picker.size", language), "choices": sizes}
        },
        "unilim": {
            "course": choice.course,
            "image": choice.image,
            "names": {lang: choice.display_name(lang) for lang in LANGUAGES},
            "descriptions": {lang: choice.description.get(lang) for lang in LANGUAGES},
            "sizes": [
                {"slug": size.slug, "names": {lang: size_label(size, lang) for lang in LANGUAGES}}
                for size in choice.sizes
            ],
        },
    }


def size_label(size: Size, language: str) -> str:
    return f"{size.display_name.get(language)} — {size_summary(size, language)}"


_PICKER = Environment(loader=PackageLoader("unilim_hub", "templates"), autoescape=True)
_PICKER_TEXTS = (
    "picker.heading",
    "picker.start",
    "picker.course",
    "picker.size",
    "spawn.no_profile",
)


def render_picker(profile_list: list[dict[str, Any]], site_language: str) -> str:
    """The spawn form: a card per profile, every text in both languages for the browser."""
    texts = {lang: {key: translate(key, lang) for key in _PICKER_TEXTS} for lang in LANGUAGES}
    template = _PICKER.get_template("form.html")
    return template.render(profile_list=profile_list, texts=texts, site_language=site_language)
