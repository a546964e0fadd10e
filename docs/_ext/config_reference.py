"""Generate the configuration reference from the traits' own help texts.

The reference is never written by hand: every setting of UnilimSite, UnilimSpawner and
UnilimAuthenticator is listed with its type, default, Helm values path and help text,
so the docs, ``jupyterhub --help-all`` and the code cannot drift apart.
"""

from __future__ import annotations

import inspect
import pprint
from pathlib import Path

from sphinx.application import Sphinx

from unilim_hub.configurables import CONFIGURABLES

TARGET = Path("reference") / "generated" / "configuration.md"

INTRO = """\
# Configuration reference

Every setting below is a [traitlets](https://traitlets.readthedocs.io) option. Set it in
`jupyterhub_config.py` as `c.<Class>.<name> = ...`, or in the Helm values of the chart
under `hub.config.<Class>.<name>` (Zero to JupyterHub passes `hub.config` to the hub
unchanged). Validate a file before deploying it with
`unilim-hub check-config values.yaml`.

The settings inherited from KubeSpawner and GenericOAuthenticator keep their upstream
meaning and are documented upstream; this page lists only what unilim-hub adds.

*This page is generated from the code's help texts.*
"""


def _default(trait) -> str:
    value = trait.default()
    text = pprint.pformat(value, width=80, sort_dicts=False)
    return f"`{text}`" if "\n" not in text else f"\n\n```python\n{text}\n```\n"


def _entry(section: str, name: str, trait) -> str:
    help_text = inspect.cleandoc(trait.help or "").strip()
    return (
        f"### `{section}.{name}`\n\n"
        f"- Type: `{trait.__class__.__name__}`\n"
        f"- Default: {_default(trait)}\n"
        f"- Helm: `hub.config.{section}.{name}`\n\n"
        f"{help_text}\n"
    )


def render() -> str:
    sections = [INTRO]
    for cls in CONFIGURABLES:
        traits = cls.class_own_traits(config=True)
        if not traits:
            continue
        doc = inspect.cleandoc(cls.__doc__ or "")
        sections.append(f"## {cls.section}\n\n{doc}\n")
        sections += [_entry(cls.section, name, traits[name]) for name in sorted(traits)]
    return "\n".join(sections)


def write_generated(app: Sphinx, relative: Path, text: str) -> None:
    """Write a generated page, leaving it untouched (no rebuild) when it did not change."""
    target = Path(app.srcdir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text("utf-8") != text:
        target.write_text(text, "utf-8")


def generate(app: Sphinx) -> None:
    write_generated(app, TARGET, render())


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
