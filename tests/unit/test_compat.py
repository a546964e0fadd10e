"""The private upstream internals unilim_hub.compat relies on, pinned on each supported version.

These tests run on JupyterHub 5.5 and 6.x (``./dev test`` runs the unit tests on both). A
failure here means upstream changed underneath us: fix ``unilim_hub/compat.py`` first.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import jupyterhub
import pytest
from jupyterhub import scopes
from jupyterhub.apihandlers.users import UserServerAPIHandler
from jupyterhub.apihandlers.users import default_handlers as api_routes
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.handlers.pages import SpawnHandler
from jupyterhub.handlers.pages import default_handlers as page_routes
from jupyterhub.spawner import Spawner
from jupyterhub.user import User
from kubespawner import KubeSpawner
from kubespawner.reflector import ResourceReflector

from unilim_hub import compat

pytestmark = pytest.mark.usefixtures("kubespawner_offline")

PROFILES = [{"display_name": "Python", "slug": "python", "kubespawner_override": {}}]


class _Spawner(compat.PickerHook, KubeSpawner):  # type: ignore[misc]
    def render_picker(self, profiles: list[dict[str, Any]]) -> str:
        self.rendered = profiles
        return "our picker"


async def test_kubespawner_renders_its_form_through_the_hook_we_replace() -> None:
    spawner = _Spawner(_mock=True, profile_list=PROFILES)
    assert spawner.options_form == "our picker"
    # The profiles handed to us are KubeSpawner's initialized ones (defaults filled in).
    assert spawner.rendered[0]["slug"] == "python"
    assert spawner.rendered[0]["default"] is True


def test_a_callable_profile_list_is_rendered_through_the_same_hook() -> None:
    source = inspect.getsource(KubeSpawner._render_options_form_dynamically)
    assert "self._render_options_form(" in source


async def test_jupyterhub_flags_the_wait_for_the_server_to_respond() -> None:
    assert Spawner._waiting_for_response is False
    assert "spawner._waiting_for_response = True" in inspect.getsource(User.spawn)
    assert "spawner._waiting_for_response = False" in inspect.getsource(User._wait_up)
    spawner = _Spawner(_mock=True)
    assert compat.waiting_for_response(spawner) is False


def test_failure_count_lives_in_the_handler_settings() -> None:
    source = inspect.getsource(BaseHandler.spawn_single_user)
    assert "self.settings['failure_count'] += 1" in source
    assert "consecutive_failure_limit" in source


def test_refusals_are_forgiven_only_where_jupyterhub_counts_them() -> None:
    handler = type("Handler", (), {"settings": {"failure_count": 3}})()
    compat.forgive_in_failure_count(handler)
    if jupyterhub.version_info >= (6,):
        # JupyterHub 6 counts errors only, never a SpawnException: nothing to forgive.
        assert compat.SpawnException is not None
        assert "isinstance(e, SpawnException)" in inspect.getsource(BaseHandler.spawn_single_user)
        assert handler.settings["failure_count"] == 3
    else:
        assert compat.SpawnException is None
        assert handler.settings["failure_count"] == 2
    compat.forgive_in_failure_count(None)  # a start without a request: nothing to forgive


def test_a_custom_scope_is_declared_once_where_jupyterhub_looks_it_up() -> None:
    compat.declare_custom_scope("custom:unilim-test:read", "first")
    compat.declare_custom_scope("custom:unilim-test:read", "second")  # no error, no change
    assert scopes.scope_definitions["custom:unilim-test:read"]["description"] == "first"


def test_kubespawner_creates_the_pod_through_the_request_we_queue() -> None:
    start = inspect.getsource(KubeSpawner._start)
    assert "self._make_create_pod_request" in start
    assert "exponential_backoff" in start
    params = inspect.signature(KubeSpawner._make_create_pod_request).parameters
    assert list(params) == ["self", "pod", "request_timeout"]


def test_kubespawner_reflectors_can_be_started_again_and_checked() -> None:
    for method in (KubeSpawner._start_watching_pods, KubeSpawner._start_watching_events):
        assert "replace" in inspect.signature(method).parameters
    assert isinstance(KubeSpawner.reflectors, dict)
    assert "_get_reflector_key" in dir(KubeSpawner)
    reflector = inspect.getsource(ResourceReflector)
    assert "self.first_load_future" in reflector
    assert "self.watch_task" in reflector


def test_the_handlers_that_create_a_named_server_name_user_and_server_in_their_path() -> None:
    # compat.named_server_request reads the target of named_server_limit_per_user there.
    assert (r"/api/users/([^/]+)/servers/([^/]*)", UserServerAPIHandler) in api_routes
    assert (r"/spawn/([^/]+)/([^/]+)", SpawnHandler) in page_routes
    source = inspect.getsource(BaseHandler.get_current_user_named_server_limit)
    assert "named_server_limit_per_user(self)" in source


def test_the_hubs_page_template_has_the_blocks_the_course_service_fills() -> None:
    # The course service's pages extend JupyterHub's page.html (compat.hub_templates).
    page = (Path(compat.hub_templates()) / "page.html").read_text()
    for block in ("title", "stylesheet", "nav_bar_left_items", "main"):
        assert re.search(rf"{{%-? block {block}\b", page), block
    assert "static_url(" in page and "no_spawner_check" in page
