"""The spawn page: the picker that shows KubeSpawner's ``profile_list`` entries as cards.

Every text in both languages, for the browser to choose from, rendered with autoescaping
(KubeSpawner's own form has none). The entries come from :mod:`unilim_hub.manifests`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader

from .i18n import translate
from .policy.models import LANGUAGES
from .policy.profiles import Chosen
from .policy.refusal import Refusal

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
    nothing: Refusal | Chosen | None = None,
) -> str:
    """The spawn form: a card per profile, every text in both languages for the browser.

    ``nothing`` says why the list is empty (by default: in none of the allowed groups).
    """
    cause = nothing if isinstance(nothing, Refusal) else Refusal("spawn.no_profile")
    texts = {
        lang: {key: translate(key, lang) for key in _PICKER_TEXTS}
        | {"nothing": translate(cause.code, lang, **cause.params)}
        for lang in LANGUAGES
    }
    template = _PICKER.get_template("form.html")
    return template.render(profile_list=profile_list, texts=texts, site_language=site_language)
