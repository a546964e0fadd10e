"""UnilimSpawner's defaults that differ from KubeSpawner's, for the users' sake."""

from __future__ import annotations

import pytest
from kubespawner import KubeSpawner

from unilim_hub.spawner import UnilimSpawner

pytestmark = pytest.mark.usefixtures("kubespawner_offline")


async def test_home_volumes_are_not_deleted_with_their_user_by_default() -> None:
    assert KubeSpawner(_mock=True).delete_pvc is True  # upstream's default, which we change
    assert UnilimSpawner(_mock=True).delete_pvc is False


def test_the_safe_default_is_the_documented_one() -> None:
    # What `jupyterhub --help-all`, the generated config and the reference show.
    assert UnilimSpawner.class_traits()["delete_pvc"].default() is False


async def test_an_admin_may_still_choose_to_delete_volumes() -> None:
    assert UnilimSpawner(_mock=True, delete_pvc=True).delete_pvc is True
