"""KubeSpawner's ``profile_list`` entries, built from the policy's visible choices."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader

from .i18n import translate
from .policy.models import LANGUAGES, Size
from .policy.profiles import SIZE_OPTION, Choice, Chosen, Refused
from .policy.quantities import format_cpu, format_memory

GPU_RESOURCE = "nvidia.com/gpu"


def size_override(size: Size) -> dict[str, Any]:
    """The KubeSpawner traits one size sets."""
    override: dict[str, Any] = {
        "cpu_guarantee": size.cpu_guarantee / 1000,
        "cpu_limit": size.cpu_limit / 1000,
        "mem_guarantee": size.mem_guarantee,
        "mem_limit": size.mem_limit,
    }
    if size.gpu:
        override["extra_resource_limits"] = {GPU_RESOURCE: str(size.gpu)}
    return override


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


def kubespawner_profile(choice: Choice, language: str) -> dict[str, Any]:
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
        "kubespawner_override": {"image": choice.image},
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
)


def render_picker(
    profile_list: list[dict[str, Any]],
    site_language: str,
    nothing: Refused | Chosen | None = None,
) -> str:
    """The spawn form: a card per profile, every text in both languages for the browser.

    ``nothing`` says why the list is empty (by default: in none of the allowed groups).
    """
    cause = nothing if isinstance(nothing, Refused) else Refused("spawn.no_profile")
    texts = {
        lang: {key: translate(key, lang) for key in _PICKER_TEXTS}
        | {"nothing": translate(cause.code, lang, **cause.params)}
        for lang in LANGUAGES
    }
    template = _PICKER.get_template("form.html")
    return template.render(profile_list=profile_list, texts=texts, site_language=site_language)
