"""Sphinx configuration: MyST Markdown, builds offline, warnings are errors in ./dev test."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "unilim-hub"
author = "unilim-hub developers"
copyright = "2026, unilim-hub developers"
language = "en"

extensions = ["myst_parser", "config_reference", "courses_api"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "unilim-hub"
