"""Unit-test settings: a lighter hypothesis profile for mutation testing."""

from __future__ import annotations

import os

from hypothesis import settings

# `./dev mutate` runs the property tests once per mutant: fewer examples keep the run in
# minutes; a mutant they would catch only on a rare example counts as surviving.
settings.register_profile("mutate", max_examples=20, deadline=None)
if os.environ.get("UNILIM_MUTATE"):
    settings.load_profile("mutate")

if os.environ.get("UNILIM_MUTATE"):
    # Loading the settings imports the spawner and authenticator (JupyterHub, KubeSpawner:
    # seconds). Imported once here, before mutmut forks a process per mutant.
    import unilim_hub.authenticator
    import unilim_hub.spawner  # noqa: F401
