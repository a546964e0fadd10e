"""The ``unilim-hub`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from . import configuration
from .i18n import describe, terminal_language, translate
from .policy.models import LANGUAGES


def read_config(path: Path) -> Config:
    """A ``jupyterhub_config.py``, or the ``hub.config`` section of Helm values."""
    if path.suffix == ".py":
        return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    values: Any = yaml.safe_load(path.read_text("utf-8")) or {}
    # Our chart depends on Zero to JupyterHub, whose values sit under `jupyterhub:`.
    for root in (values, values.get("jupyterhub") or {}):
        hub_config = (root.get("hub") or {}).get("config")
        if hub_config is not None:
            return Config(hub_config)
    return Config()


def check_config(path: Path, language: str) -> int:
    try:
        config = read_config(path)
    except Exception as error:  # any failure to read or run the file is the admin's to see
        print(translate("check.unreadable", language, path=path, error=error), file=sys.stderr)
        return 2
    _, problems = configuration.check(config)
    if not problems:
        print(translate("check.ok", language, path=path))
        return 0
    print(translate("check.failed", language, path=path, count=len(problems)))
    for problem in problems:
        print(f"  - {describe(problem, language)}")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="unilim-hub", description="unilim-hub tools")
    parser.add_argument("--lang", choices=LANGUAGES, help="language of the output")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check-config",
        help="validate a jupyterhub_config.py or Helm values file without starting a hub",
    )
    check.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    language = args.lang or terminal_language()
    return check_config(args.path, language)


if __name__ == "__main__":
    sys.exit(main())
