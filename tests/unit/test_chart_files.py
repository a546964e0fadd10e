"""What the deployment files say, checked without a cluster: the chart's dependency and values
(against Zero to JupyterHub's schema and ours), the images' Containerfiles, the GitLab
pipeline. Rendering and the API server's verdict: tests/integration/test_chart.py."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from traitlets.config import Config

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
from unilim_hub import cli, s3access
from unilim_hub.configurables import CONFIGURABLES
from unilim_hub.courses import BIND_VARIABLE, SERVICE_NAME, SETTINGS_VARIABLE, STATE_VARIABLE
from unilim_hub.policy.quantities import parse_cpu, parse_memory
from unilim_hub.refusals import REFUSALS_SCOPE

IMAGES = REPO / "images"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
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


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_user_pods_are_spread_by_the_default_scheduler_not_packed(environment):
    scheduling = subchart_values(environment)["scheduling"]
    assert scheduling["userScheduler"]["enabled"] is False
    # Placeholders would hold pod slots the rooms' capacity counts as free.
    assert scheduling["userPlaceholder"]["enabled"] is False


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_hub_and_the_proxy_take_the_uid_restricted_v2_assigns(environment):
    values = subchart_values(environment)
    hub = values["hub"]
    contexts = {
        "hub": {**hub["podSecurityContext"], **hub["containerSecurityContext"]},
        "proxy": values["proxy"]["chp"]["containerSecurityContext"],
    }
    for name, context in contexts.items():
        # restricted-v2 refuses a UID or group outside the namespace's range: none is fixed.
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(context), name
        assert context["runAsNonRoot"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
    assert "fsGid" not in hub


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_user_pods_get_no_fixed_uid_and_no_privileged_init_container(environment):
    singleuser = subchart_values(environment)["singleuser"]
    assert "uid" not in singleuser and "fsGid" not in singleuser
    assert singleuser["allowPrivilegeEscalation"] is False
    # The cloud-metadata blocker is an init container with NET_ADMIN, as root.
    assert singleuser["cloudMetadata"]["blockWithIptables"] is False


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_zero_to_jupyterhubs_own_policies_let_the_hub_and_user_servers_reach_dns_only(
    environment,
):
    # The chart's NetworkPolicies add what each needs (tests/integration/test_chart.py).
    values = subchart_values(environment)
    for name in ("hub", "singleuser"):
        policy = values[name]["networkPolicy"]
        assert policy["enabled"] is True, name
        allowed = {rule for rule, on in policy["egressAllowRules"].items() if on}
        assert allowed == {"dnsPortsKubeSystemNamespace", "dnsPortsPrivateIPs"}, name
        assert policy["egress"] == [], name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_hub_is_set_for_a_thousand_users_on_postgresql(environment):
    values = subchart_values(environment)
    hub = values["hub"]
    assert hub["db"]["type"] == "postgres"
    # The driver the hub image installs (the `postgresql` extra of pyproject.toml).
    driver = PROJECT["optional-dependencies"]["postgresql"]
    assert any(dependency.startswith("psycopg") for dependency in driver)
    assert urlsplit(hub["db"]["url"]).scheme == "postgresql+psycopg"
    # Zero to JupyterHub's setting and the policy's own (which the demo hub reads too).
    limit = hub["concurrentSpawnLimit"]
    assert limit == hub["config"]["JupyterHub"]["concurrent_spawn_limit"] >= 1000
    cull = values["cull"]
    assert cull["enabled"] is True and cull["timeout"] == 3600
    # The culler stops idle servers; it never deletes users or named servers.
    assert cull["users"] is False and cull["removeNamedServers"] is False


def _application(environment: str) -> dict[str, Any]:
    return load(REPO / "config" / "argocd" / f"{environment}.yaml")


def _registry_image(name: str) -> str:
    """Where the pipeline pushes an image: GitLab's registry of the project Argo CD reads
    its values from ($CI_REGISTRY_IMAGE/<name>)."""
    repository = _application("prod")["spec"]["sources"][1]["repoURL"]
    url = urlsplit(repository.removesuffix(".git"))
    return f"registry.{url.hostname}{url.path}/{name}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environment_runs_the_images_of_the_chart_version_it_deploys(environment):
    values = subchart_values(environment)
    version = _application(environment)["spec"]["sources"][0]["targetRevision"]
    built = {
        job["variables"]["NAME"] for job in _jobs().values() if job.get("extends") == ".buildah"
    }
    for image in (values["hub"]["image"], values["singleuser"]["image"]):
        assert image["name"] in {_registry_image(name) for name in built}
        # The pipeline tags the images and the chart of a release alike (X.Y.Z).
        assert image["tag"] == version, image["name"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_argo_cd_prunes_what_left_the_chart_last_and_never_replaces_the_hubs_secret(
    environment,
):
    spec = _application(environment)["spec"]
    options = spec["syncPolicy"]["syncOptions"]
    assert "PruneLast=true" in options and "RespectIgnoreDifferences=true" in options
    assert {"kind": "Secret", "name": "hub", "jsonPointers": ["/data"]} in spec["ignoreDifferences"]


def test_production_is_synced_by_hand_after_pre_production():
    preprod, prod = (_application(environment) for environment in ("preprod", "prod"))
    assert preprod["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "automated" not in prod["spec"]["syncPolicy"]
    wave = "argocd.argoproj.io/sync-wave"
    assert int(preprod["metadata"]["annotations"][wave]) < int(
        prod["metadata"]["annotations"][wave]
    )


def hub_configuration(environment: str) -> Config:
    """The hub's configuration as Zero to JupyterHub's jupyterhub_config.py makes it from
    the values: `hub.config` section by section, then the `hub.extraConfig` snippets, run
    in the order of their names with `c` the configuration. (Its own services, the idle
    culler's, are left out.)"""
    hub = site_values(environment)["jupyterhub"]["hub"]
    c = Config()
    c.JupyterHub.services = []
    c.JupyterHub.load_roles = []
    for section, settings in hub["config"].items():
        c[section].update(settings)
    for name, snippet in sorted(hub["extraConfig"].items()):
        exec(compile(snippet, f"hub.extraConfig.{name}", "exec"), {"c": c})
    return c


def _course_service(c: Config) -> dict[str, Any]:
    (service,) = [s for s in c.JupyterHub.services if s["name"] == SERVICE_NAME]
    return service


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_hub_starts_the_course_service_where_the_proxy_reaches_it(environment):
    hub = site_values(environment)["jupyterhub"]["hub"]
    service = _course_service(hub_configuration(environment))
    assert service["command"][0] in PROJECT["scripts"]  # installed in the hub image
    # Through the hub's Service, on a port it has and the hub's NetworkPolicy opens.
    url = urlsplit(service["url"])
    assert url.hostname == "hub"
    assert {"port": url.port, "targetPort": url.port} in [
        {key: port[key] for key in ("port", "targetPort")} for port in hub["service"]["extraPorts"]
    ]
    opened = [port["port"] for rule in hub["networkPolicy"]["ingress"] for port in rule["ports"]]
    assert url.port in opened
    assert service["environment"][BIND_VARIABLE] == "0.0.0.0"
    # Its history on a claim mounted there, which outlives the hub's pod.
    mounts = {mount["mountPath"]: mount["name"] for mount in hub["extraVolumeMounts"]}
    volume = mounts[service["environment"][STATE_VARIABLE]]
    (source,) = [v for v in hub["extraVolumes"] if v["name"] == volume]
    assert "persistentVolumeClaim" in source


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_course_service_may_read_the_hubs_refusals(environment):
    c = hub_configuration(environment)
    (role,) = [r for r in c.JupyterHub.load_roles if SERVICE_NAME in r.get("services", [])]
    assert REFUSALS_SCOPE in role["scopes"]
    # A custom scope the hub does not declare fails its start.
    assert REFUSALS_SCOPE in c.JupyterHub.custom_scopes


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_course_service_checks_courses_against_the_deployed_policy(environment):
    # Rooms, quotas, the catalog, the course folder and S3 capabilities a teacher's
    # switches depend on: the environment's values, as the hub reads them.
    deployed = site_values(environment)["jupyterhub"]["hub"]["config"]
    service = _course_service(hub_configuration(environment))
    settings = json.loads(service["environment"][SETTINGS_VARIABLE])
    ours = {
        (cls.section, name) for cls in CONFIGURABLES for name in cls.class_own_traits(config=True)
    }
    checked = set()
    for section, values in deployed.items():
        for key in sorted(values.keys() & {name for sec, name in ours if sec == section}):
            assert settings[f"{section}.{key}"] == values[key], f"{section}.{key}"
            checked.add(key)
    capabilities = {"rooms", "group_quotas", "profile_catalog", "course_folders", "s3_mode"}
    assert capabilities | {"s3_strict", "course_prefix"} <= checked


def test_every_image_is_linted_and_has_its_containerfile():
    assert {p.parent.relative_to(IMAGES).as_posix() for p in CONTAINERFILES} == {
        "hub",
        "singleuser/base",
        "singleuser/course-spark",
    }


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined. As buildah
    reads it, a comment line is dropped, also in the middle of a continued instruction."""
    lines = path.read_text("utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.strip().startswith("#"))
    instructions = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in instructions
        if line
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
    (dependency,) = load(CHART / "Chart.yaml")["dependencies"]
    hub_image = f"quay.io/jupyterhub/k8s-hub:{dependency['version']}"
    assert _base_image(IMAGES / "hub" / "Containerfile") == hub_image
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


@pytest.mark.parametrize("path", CONTAINERFILES, ids=lambda p: p.parent.name)
def test_images_let_an_arbitrary_uid_write_what_their_own_user_writes(path):
    # OpenShift runs a container as a UID of the namespace's range, in group 0.
    steps = " ".join(rest for name, rest in _instructions(path) if name == "RUN")
    assert "chmod -R g=u" in steps


def test_the_singleuser_base_points_s3_clients_at_the_hubs_credentials():
    env = " ".join(rest for name, rest in _instructions(IMAGES / "singleuser/base/Containerfile")
                   if name == "ENV")  # fmt: skip
    # Where the hub mounts each server's credentials Secret (s3access).
    folder = s3access.MOUNT_PATH
    assert f"AWS_SHARED_CREDENTIALS_FILE={folder}/{s3access.CREDENTIALS_FILE}" in env
    assert f"AWS_CONFIG_FILE={folder}/{s3access.CONFIG_FILE}" in env


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
