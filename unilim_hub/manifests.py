"""What a start asks of KubeSpawner: ``profile_list`` entries and the traits they override.

KubeSpawner builds the pod from its traits; unilim-hub only says which traits a profile,
a size (and later a room and the volumes) set, as ``kubespawner_override`` mappings.
"""

from __future__ import annotations

from typing import Any

from .i18n import size_label, translate
from .policy.models import LANGUAGES, Size
from .policy.profiles import SIZE_OPTION, Choice

GPU_RESOURCE = "nvidia.com/gpu"


def profile_override(choice: Choice) -> dict[str, Any]:
    """The KubeSpawner traits a profile sets: its image, pinned to the chosen tag."""
    return {"image": choice.image}


def size_override(size: Size) -> dict[str, Any]:
    """The KubeSpawner traits one size sets (KubeSpawner takes CPU in cores)."""
    override: dict[str, Any] = {
        "cpu_guarantee": size.cpu_guarantee / 1000,
        "cpu_limit": size.cpu_limit / 1000,
        "mem_guarantee": size.mem_guarantee,
        "mem_limit": size.mem_limit,
    }
    if size.gpu:
        override["extra_resource_limits"] = {GPU_RESOURCE: str(size.gpu)}
    return override


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
