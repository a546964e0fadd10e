"""What the deployment files say, checked without a cluster: the chart's dependency and values
(against Zero to JupyterHub's schema and ours), the images' Containerfiles, the GitLab
pipeline. Rendering and the API server's verdict: tests/integration/test_chart.py."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chartvalues import (
    CHART,
    ENVIRONMENTS,
    REPO,
    Z2JH_SCHEMA,
    coalesce,
    load,
    shared_schema,
    site_values,
    subchart_values,
)
from unilim_hub import cli
from unilim_hub.policy.quantities import parse_cpu, parse_memory

IMAGES = REPO / "images"
CONTAINERFILES = sorted(IMAGES.glob("**/Containerfile"))


def test_the_chart_depends_on_zero_to_jupyterhub_4_4_0_exactly():
    chart = load(CHART / "Chart.yaml")
    assert chart["dependencies"] == [
        {
            "name": "jupyterhub",
            "version": "4.4.0",
            "repository": "https://hub.jupyter.org/helm-chart/",
            "condition": "jupyterhub.enabled",
        }
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_overlay_values_meet_the_zero_to_jupyterhub_schema(environment):
    schema = load(shared_schema(Z2JH_SCHEMA))
    jsonschema.validate(subchart_values(environment), schema)


def test_a_misspelt_zero_to_jupyterhub_value_is_refused_by_its_schema():
    schema = load(shared_schema(Z2JH_SCHEMA))
    values = coalesce(subchart_values("prod"), {"singleuser": {"cloudMetaData": {}}})
    with pytest.raises(jsonschema.ValidationError, match="cloudMetaData"):
        jsonschema.validate(values, schema)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_our_values_meet_the_charts_own_schema(environment):
    schema = json.loads((CHART / "values.schema.json").read_text("utf-8"))
    jsonschema.validate(site_values(environment), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(coalesce(site_values(environment), {"route": {"hots": "x"}}), schema)


def check_config(values: dict[str, Any], tmp_path: Path, capsys) -> tuple[int, str]:
    """`unilim-hub check-config` on the hub.config the chart gives the hub: its exit status
    and output (in this process: the command's own entry point, without a Python start)."""
    path = tmp_path / "values.yaml"
    hub_config = values["jupyterhub"]["hub"]["config"]
    path.write_text(yaml.safe_dump({"jupyterhub": {"hub": {"config": hub_config}}}))
    status = cli.main(["--lang", "en", "check-config", str(path)])
    return status, capsys.readouterr().out


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_hub_config_each_environment_deploys_passes_check_config(environment, tmp_path, capsys):
    status, out = check_config(site_values(environment), tmp_path, capsys)
    assert status == 0, out
    assert "the configuration is valid" in out


def test_a_typo_in_an_environments_hub_config_fails_check_config(tmp_path, capsys):
    typo = {"jupyterhub": {"hub": {"config": {"UnilimSpawner": {"home_sise": "20G"}}}}}
    status, out = check_config(coalesce(site_values("prod"), typo), tmp_path, capsys)
    assert status == 1
    assert "UnilimSpawner.home_sise" in out
    assert "Did you mean 'home_size'?" in out


def _group_quota_sums(hub_config: dict[str, Any]) -> dict[str, float]:
    quotas = hub_config["UnilimSpawner"]["group_quotas"].values()
    return {
        "pods": sum(q["servers"] for q in quotas),
        "requests.cpu": sum(parse_cpu(q["cpu"]) for q in quotas),
        "requests.memory": sum(parse_memory(q["memory"]) for q in quotas),
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_namespace_quota_is_a_backstop_above_every_group_quota(environment):
    values = site_values(environment)
    hard = values["namespaceQuota"]["hard"]
    sums = _group_quota_sums(values["jupyterhub"]["hub"]["config"])
    # The hub and the proxy are pods too.
    assert int(hard["pods"]) >= sums["pods"] + 2
    assert parse_cpu(hard["requests.cpu"]) >= sums["requests.cpu"]
    assert parse_memory(hard["requests.memory"]) >= sums["requests.memory"]


def test_user_pods_are_spread_by_the_default_scheduler_not_packed():
    values = subchart_values("prod")
    assert values["scheduling"]["userScheduler"]["enabled"] is False
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    assert "uid" not in values["singleuser"] and "fsGid" not in values["singleuser"]
    assert "fsGroup" not in values["hub"]["podSecurityContext"]


def test_every_image_is_linted_and_has_its_containerfile():
    assert {p.parent.relative_to(IMAGES).as_posix() for p in CONTAINERFILES} == {
        "hub",
        "singleuser/base",
        "singleuser/course-spark",
    }


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text("utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _base_image(path: Path) -> str:
    """The FROM image, with a default given by an ARG resolved."""
    args: dict[str, str] = {}
    for instruction, rest in _instructions(path):
        if instruction == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            args[name] = value
        if instruction == "FROM":
            return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
    raise AssertionError(f"{path}: no FROM")


@pytest.mark.parametrize("path", CONTAINERFILES, ids=lambda p: p.parent.name)
def test_images_start_from_a_pinned_base(path):
    image = _base_image(path)
    name, _, tag = image.rpartition(":")
    assert "@sha256:" in image or (name and tag and tag != "latest" and "/" not in tag), image


def test_the_hub_image_is_the_one_of_the_pinned_chart_with_the_tests_pins():
    instructions = _instructions(IMAGES / "hub" / "Containerfile")
    assert _base_image(IMAGES / "hub" / "Containerfile") == "quay.io/jupyterhub/k8s-hub:4.4.0"
    install = " ".join(rest for name, rest in instructions if name == "RUN")
    assert "-c /tmp/unilim-hub/requirements/constraints.txt" in install
    assert "[postgresql]" in install


@pytest.mark.parametrize("path", CONTAINERFILES, ids=lambda p: p.parent.name)
def test_images_run_as_a_numeric_non_root_user_with_labels(path):
    instructions = _instructions(path)
    users = [rest for name, rest in instructions if name == "USER"]
    assert users and users[-1].isdigit() and users[-1] != "0", users
    labels = " ".join(rest for name, rest in instructions if name == "LABEL")
    # An image built on our base inherits the base's source, licenses and vendor.
    own_base = _base_image(path).startswith("registry.gitlab.unilim.fr/dsi/unilim-hub/")
    keys = ("title", "description") if own_base else ("title", "description", "source", "licenses")
    for key in keys:
        assert f"org.opencontainers.image.{key}=" in labels


def test_the_singleuser_base_points_s3_clients_at_the_hubs_credentials():
    env = " ".join(rest for name, rest in _instructions(IMAGES / "singleuser/base/Containerfile")
                   if name == "ENV")  # fmt: skip
    assert "AWS_SHARED_CREDENTIALS_FILE=/etc/unilim/s3/credentials" in env
    assert "AWS_CONFIG_FILE=/etc/unilim/s3/config" in env


PIPELINE = REPO / ".gitlab-ci.yml"


def _jobs() -> dict[str, Any]:
    pipeline = load(PIPELINE)
    return {
        name: job
        for name, job in pipeline.items()
        if isinstance(job, dict) and not name.startswith(".") and ({"script", "extends"} & set(job))
    }


def _script(job: dict[str, Any]) -> str:
    return "\n".join(job.get("before_script", []) + job["script"])


def test_the_pipeline_has_its_stages_and_jobs_in_order():
    pipeline = load(PIPELINE)
    assert pipeline["stages"] == ["lint", "test", "build", "publish"]
    jobs = _jobs()
    assert {"lint", "test", "build-hub", "build-singleuser-base", "package-chart"} <= set(jobs)
    assert "publish-chart" in jobs
    for name, job in jobs.items():
        stage = job.get("stage") or pipeline[job["extends"]]["stage"]
        assert stage in pipeline["stages"], name


def test_the_pipelines_test_job_runs_the_readmes_test_command():
    readme = (REPO / "README.md").read_text("utf-8")
    command = re.search(r"^(\./dev test)\s", readme, re.MULTILINE)
    assert command is not None
    assert _jobs()["test"]["script"] == [command.group(1)]


def test_the_pipeline_builds_every_image_with_buildah():
    pipeline = load(PIPELINE)
    built = {
        job["variables"]["CONTAINERFILE"]
        for job in _jobs().values()
        if job.get("extends") == ".buildah"
    }
    assert built == {p.relative_to(REPO).as_posix() for p in CONTAINERFILES}
    script = _script(pipeline[".buildah"])
    assert "buildah build" in script and "buildah push" in script


def test_the_pipeline_packages_the_chart_and_publishes_it_on_tags():
    jobs = _jobs()
    package = _script(jobs["package-chart"])
    assert "helm dependency build" in package and "helm package" in package
    publish = jobs["publish-chart"]
    assert publish["rules"] == [{"if": "$CI_COMMIT_TAG"}]
    assert "/packages/helm/api/stable/charts" in _script(publish)
    for line in _script(publish).splitlines():
        shlex.split(line)  # every command line parses as the shell's


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_homes_are_on_the_nfs_class_the_chart_makes(environment):
    values = site_values(environment)
    name = values["nfsStorageClass"]["name"]
    assert values["jupyterhub"]["hub"]["config"]["UnilimSpawner"]["home_storage_class"] == name
    dynamic = values["jupyterhub"]["singleuser"]["storage"]["dynamic"]
    assert dynamic["storageClass"] == name
    # Named servers share the home, from nodes of either room; UnilimSpawner names it.
    assert dynamic["storageAccessModes"] == ["ReadWriteMany"]
    assert dynamic.get("pvcNameTemplate") is None


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_namespace_limit_range_lets_every_profile_size_start(environment):
    values = site_values(environment)
    most = values["namespaceQuota"]["limitRange"]["max"]
    catalog = values["jupyterhub"]["hub"]["config"]["UnilimSpawner"]["profile_catalog"]
    for profile in catalog:
        for size in profile["sizes"]:
            assert parse_cpu(size["cpu_limit"]) <= parse_cpu(most["cpu"]), profile["slug"]
            assert parse_memory(size["mem_limit"]) <= parse_memory(most["memory"]), profile["slug"]
