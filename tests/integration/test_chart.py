"""The chart and the Argo CD Applications against the local platform's API server.

Our templates are rendered by helm (built from its Go module by the devenv) without the Zero
to JupyterHub dependency, which cannot be downloaded here; the API server answers for every
object with a server-side dry run, in the namespace where Pod Security `restricted` is
enforced. Argo CD's CRDs come from ../shared/schemas (tests/chartvalues.py).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from devenv import hadolint, helm, kube, procs
from tests.chartvalues import (
    ENVIRONMENTS,
    REPO,
    Z2JH_DEFAULTS,
    Z2JH_SCHEMA,
    load,
    shared_schema,
    site_values,
    subchart_values,
    value_files,
)

ARGOCD_CRDS = (
    "argocd-v3.5.1-application-crd.yaml",
    "argocd-v3.5.1-applicationset-crd.yaml",
    "argocd-v3.5.1-appproject-crd.yaml",
)
ARGOCD_NAMESPACE = "openshift-gitops"
DRY_RUN = ("apply", "--server-side", "--dry-run=server", "--field-manager=unilim-chart-test")
# Plain Kubernetes has no Route: the dry run renders the Ingress in its place.
WITH_INGRESS = ("--set=route.enabled=false", "--set=ingress.enabled=true")


def render(environment: str, *extra: str) -> list[dict[str, Any]]:
    """The objects our chart renders for an environment (as Argo CD gives it the values)."""
    files = [f"--values={path}" for path in value_files(environment)]
    text = helm.render(*files, *extra, namespace=kube.USER_NAMESPACE)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def dry_run(objects: list[dict[str, Any]], namespace: str) -> subprocess.CompletedProcess[str]:
    """The API server's verdict on creating the objects (nothing is stored)."""
    manifest = "\n---\n".join(json.dumps(obj) for obj in objects)
    return kube.run_kubectl(
        f"--namespace={namespace}", *DRY_RUN, "--force-conflicts", "-f", "-", input=manifest
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_object_the_chart_renders_passes_the_api_servers_dry_run(platform, environment):
    objects = render(environment, *WITH_INGRESS, "--set=ingress.host=jupyter.example.org")
    kinds = sorted(obj["kind"] for obj in objects)
    expected = ["ClusterRole", "ClusterRoleBinding", "Ingress", "LimitRange"]
    expected += ["NetworkPolicy", "NetworkPolicy", "ResourceQuota", "Role", "RoleBinding"]
    expected += ["PersistentVolumeClaim"]  # the course service's history
    if environment == "prod":  # the cluster-wide classes come from production's release
        expected += ["PriorityClass", "PriorityClass", "StorageClass"]
    assert kinds == sorted(expected)
    result = dry_run(objects, kube.USER_NAMESPACE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(objects), result.stdout


def test_a_wrong_field_in_a_rendered_object_is_refused_by_the_dry_run(platform):
    objects = render("prod", *WITH_INGRESS, "--set=ingress.host=jupyter.example.org")
    quota = next(obj for obj in objects if obj["kind"] == "ResourceQuota")
    quota["spec"]["hardd"] = quota["spec"].pop("hard")
    result = dry_run([quota], kube.USER_NAMESPACE)
    assert result.returncode != 0 and "hardd" in result.stderr


def test_the_user_namespace_of_the_dry_run_enforces_pod_security_restricted(platform):
    labels = json.loads(
        kube.kubectl("get", "namespace", kube.USER_NAMESPACE, "-o", "jsonpath={.metadata.labels}")
    )
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_route_sends_people_to_the_proxy_over_https():
    # No Route kind in the local API server (OpenShift's): checked as rendered.
    (route,) = [obj for obj in render("prod") if obj["kind"] == "Route"]
    assert route["apiVersion"] == "route.openshift.io/v1"
    assert route["spec"]["host"] == "jupyter.unilim.fr"
    assert route["spec"]["to"] == {"kind": "Service", "name": "proxy-public", "weight": 100}
    assert route["spec"]["tls"]["termination"] == "edge"
    assert route["spec"]["tls"]["insecureEdgeTerminationPolicy"] == "Redirect"


def test_on_plain_kubernetes_an_ingress_sends_people_to_the_proxy_instead():
    objects = render("prod", *WITH_INGRESS, "--set=ingress.host=jupyter.example.org")
    assert "Route" not in {obj["kind"] for obj in objects}
    (ingress,) = [obj for obj in objects if obj["kind"] == "Ingress"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "jupyter.example.org"
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    assert path["backend"] == {"service": {"name": "proxy-public", "port": {"name": "http"}}}


# A template of the stand-in below: the values Zero to JupyterHub's templates would read.
_PRINT_VALUES = """apiVersion: v1
kind: ConfigMap
metadata: {name: jupyterhub-values}
data:
  values.json: {{ toJson .Values | quote }}
"""


def values_helm_gives_zero_to_jupyterhub(environment: str) -> dict[str, Any]:
    """What the `jupyterhub` subchart receives, merged by helm itself: a stand-in for it
    with Zero to JupyterHub 4.4.0's own defaults and schema (../shared/schemas), which
    helm checks them against as it would the real chart's, and a template printing them."""
    with helm.chart_alone() as chart:
        standin = chart / "charts" / "jupyterhub"
        (standin / "values.yaml").write_text(shared_schema(Z2JH_DEFAULTS).read_text("utf-8"))
        schema = json.dumps(load(shared_schema(Z2JH_SCHEMA)))
        (standin / "values.schema.json").write_text(schema)
        (standin / "templates").mkdir()
        (standin / "templates" / "values.yaml").write_text(_PRINT_VALUES)
        files = [f"--values={path}" for path in value_files(environment)]
        only = "--show-only=charts/jupyterhub/templates/values.yaml"
        text = helm.helm("template", helm.RELEASE, str(chart), *files, only).stdout
    return json.loads(yaml.safe_load(text)["data"]["values.json"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_helm_gives_zero_to_jupyterhub_the_values_the_unit_tests_check(environment):
    received = values_helm_gives_zero_to_jupyterhub(environment)
    # What restricted-v2 depends on: our nulls remove the chart's fixed UIDs and groups.
    assert "uid" not in received["singleuser"] and "fsGid" not in received["singleuser"]
    assert "runAsUser" not in received["hub"]["containerSecurityContext"]
    assert "fsGroup" not in received["hub"]["podSecurityContext"]
    assert "runAsUser" not in received["proxy"]["chp"]["containerSecurityContext"]
    # tests/chartvalues.py, which the unit tests use, merges as helm does (`global` is
    # helm's own, shared by every chart). A null and no key are the same to Zero to
    # JupyterHub (its get_config gives None for both); helm keeps a null it has no
    # default to remove with (singleuser.storage.dynamic.pvcNameTemplate), ours not.
    merged = subchart_values(environment)
    del received["global"], merged["global"]
    assert _without_nulls(received) == _without_nulls(merged)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _egress_rule(entry: dict[str, Any]) -> dict[str, Any]:
    """A `networkPolicy` entry of values.yaml as the NetworkPolicy rule it must become."""
    return {
        "to": [{"ipBlock": {"cidr": cidr}} for cidr in entry["cidrs"]],
        "ports": [{"protocol": "TCP", "port": port} for port in entry["ports"]],
    }


def _policies(environment: str) -> dict[str, dict[str, Any]]:
    """The NetworkPolicies the chart renders for an environment, by name."""
    objects = render(environment)
    return {
        obj["metadata"]["name"]: obj["spec"] for obj in objects if obj["kind"] == "NetworkPolicy"
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_user_servers_reach_the_hub_s3_and_nfs_only(environment):
    allowed = site_values(environment)["networkPolicy"]["userEgress"]
    policy = _policies(environment)["unilim-hub-singleuser-egress"]
    assert policy["podSelector"] == {"matchLabels": {"component": "singleuser-server"}}
    assert policy["policyTypes"] == ["Egress"]
    hub = {"podSelector": {"matchLabels": {"component": "hub"}}}
    assert policy["egress"] == [
        {"to": [hub], "ports": [{"protocol": "TCP", "port": 8081}]},
        _egress_rule(allowed["s3"]),
        _egress_rule(allowed["nfs"]),
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_hub_reaches_its_pods_the_idp_the_api_server_its_database_and_s3(environment):
    allowed = site_values(environment)["networkPolicy"]["hubEgress"]
    policy = _policies(environment)["unilim-hub-hub-egress"]
    assert policy["podSelector"] == {"matchLabels": {"component": "hub"}}
    assert policy["egress"] == [
        {"to": [{"podSelector": {}}]},  # user servers and the proxy's API, this namespace
        *(_egress_rule(allowed[name]) for name in ("idp", "apiServer", "database", "s3")),
    ]


def test_without_addresses_the_policies_open_nothing_outside_the_namespace():
    # The chart's defaults alone (no environment): an entry without CIDRs adds no rule.
    objects = [obj for obj in yaml.safe_load_all(helm.render()) if obj]
    policies = {obj["metadata"]["name"]: obj["spec"] for obj in objects
                if obj["kind"] == "NetworkPolicy"}  # fmt: skip
    assert [rule["to"] for rule in policies["unilim-hub-singleuser-egress"]["egress"]] == [
        [{"podSelector": {"matchLabels": {"component": "hub"}}}]
    ]
    assert [rule["to"] for rule in policies["unilim-hub-hub-egress"]["egress"]] == [
        [{"podSelector": {}}]
    ]


def test_the_hub_and_the_proxy_are_scheduled_before_user_servers():
    classes = {o["metadata"]["name"]: o for o in render("prod") if o["kind"] == "PriorityClass"}
    jupyterhub = subchart_values("prod")
    core = classes[jupyterhub["hub"]["extraPodSpec"]["priorityClassName"]]
    assert classes[jupyterhub["proxy"]["chp"]["extraPodSpec"]["priorityClassName"]] is core
    users = classes[jupyterhub["hub"]["config"]["UnilimSpawner"]["priority_class_name"]]
    assert core["value"] > users["value"]
    # A user server waits for room; it never evicts another pod to start.
    assert users["preemptionPolicy"] == "Never"
    assert core["globalDefault"] is False and users["globalDefault"] is False


def test_the_nfs_class_has_the_environments_parameters():
    wanted = site_values("prod")["nfsStorageClass"]
    (nfs,) = [obj for obj in render("prod") if obj["kind"] == "StorageClass"]
    assert nfs["metadata"]["name"] == wanted["name"]
    assert nfs["provisioner"] == wanted["provisioner"]
    assert nfs["parameters"] == {key: str(value) for key, value in wanted["parameters"].items()}
    assert nfs["mountOptions"] == wanted["mountOptions"]
    assert nfs["reclaimPolicy"] == "Retain"  # a volume outlives its claim
    assert nfs["volumeBindingMode"] == "WaitForFirstConsumer"


def test_the_course_history_claim_is_the_one_the_hub_mounts_on_the_nfs_class():
    (claim,) = [obj for obj in render("prod") if obj["kind"] == "PersistentVolumeClaim"]
    hub = subchart_values("prod")["hub"]
    claims = [v["persistentVolumeClaim"]["claimName"] for v in hub["extraVolumes"]]
    assert claim["metadata"]["name"] in claims
    assert claim["spec"]["storageClassName"] == site_values("prod")["nfsStorageClass"]["name"]
    # The hub may restart in the other room, on another node.
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


# What the hub needs before it starts: its rights, the namespace's bounds, the classes.
EARLY = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "ResourceQuota"}
EARLY |= {"LimitRange", "PriorityClass", "StorageClass"}
# What holds data: Argo CD never prunes nor deletes it (Helm's `keep` is not Argo CD's).
KEPT = {"PersistentVolumeClaim", "StorageClass"}


def test_argo_cd_syncs_the_hubs_prerequisites_first_and_never_deletes_data():
    objects = render("prod")
    assert {obj["kind"] for obj in objects} >= EARLY | KEPT
    for obj in objects:
        annotations = obj["metadata"].get("annotations", {})
        wave = annotations.get("argocd.argoproj.io/sync-wave", "0")
        assert (wave == "-1") == (obj["kind"] in EARLY), obj["kind"]
        options = annotations.get("argocd.argoproj.io/sync-options", "")
        assert ("Prune=false,Delete=false" in options) == (obj["kind"] in KEPT), obj["kind"]


def test_the_hub_of_the_tests_has_exactly_the_charts_rbac(platform):
    rendered = kube.hub_rbac()
    # `kubectl diff` exits 0 when the live objects are what the chart renders.
    diff = kube.run_kubectl("diff", "--server-side", "--force-conflicts", "-f", "-", input=rendered)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    # ... and nothing else grants the hub's account anything.
    granting = set()
    for kind in ("rolebindings", "clusterrolebindings"):
        listed = json.loads(kube.kubectl("get", kind, "--all-namespaces", "-o", "json"))
        for binding in listed["items"]:
            for subject in binding.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount" and subject["name"] == kube.HUB_ACCOUNT:
                    granting.add((kind, binding["metadata"]["name"]))
    chart_bindings = {
        (obj["kind"].lower() + "s", obj["metadata"]["name"])
        for obj in yaml.safe_load_all(rendered)
        if obj and obj["kind"].endswith("Binding")
    }
    assert granting == chart_bindings


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "allowed"),
    [
        ("patch", "persistentvolumeclaims", kube.USER_NAMESPACE, True),  # homes grow
        ("patch", "secrets", kube.USER_NAMESPACE, True),  # S3 credentials renewed
        ("delete", "secrets", kube.USER_NAMESPACE, True),  # a server's S3 Secret
        ("patch", "pods", kube.USER_NAMESPACE, False),
        ("update", "persistentvolumeclaims", kube.USER_NAMESPACE, False),
        ("create", "configmaps", kube.USER_NAMESPACE, False),
        ("watch", "nodes", "", True),
        ("get", "persistentvolumes", "", True),
        ("list", "persistentvolumes", "", False),
        ("get", "secrets", "default", False),
        ("delete", "nodes", "", False),
        ("create", "rolebindings", kube.USER_NAMESPACE, False),
    ],
)
def test_the_charts_rbac_lets_the_hub_do_its_work_and_no_more(
    platform, verb, resource, namespace, allowed
):
    where = [f"--namespace={namespace}"] if namespace else []
    answer = kube.kubectl(
        "auth", "can-i", verb, resource, *where, f"--as={kube.HUB_USER}", check=False
    ).strip()
    assert answer == ("yes" if allowed else "no")


@pytest.fixture(scope="module")
def argocd_crds(platform: list[str]) -> None:
    """Argo CD v3.5.1's CRDs in the local API server, and the namespace of its Applications."""
    for name in ARGOCD_CRDS:
        text = shared_schema(name).read_text("utf-8")
        kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=text)
    for crd in ("applications", "applicationsets", "appprojects"):
        name = f"crd/{crd}.argoproj.io"
        procs.wait_ready("kube-apiserver", lambda name=name: established(name), 30, name)
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGOCD_NAMESPACE}})


def established(crd: str) -> bool:
    status = "jsonpath={.status.conditions[?(@.type=='Established')].status}"
    return kube.kubectl("get", crd, "-o", status) == "True"


def argocd_objects() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((REPO / "config" / "argocd").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text("utf-8"))
        if doc
    ]


def test_the_argo_cd_project_and_applications_are_accepted_by_the_api_server(argocd_crds):
    objects = argocd_objects()
    assert sorted(obj["metadata"]["name"] for obj in objects) == [
        "unilim-hub",
        "unilim-hub-preprod",
        "unilim-hub-prod",
    ]
    result = dry_run(objects, ARGOCD_NAMESPACE)
    assert result.returncode == 0, result.stderr


def test_an_application_with_a_misspelt_field_is_refused(argocd_crds):
    application = next(obj for obj in argocd_objects() if obj["kind"] == "Application")
    application["spec"]["syncPolicy"]["syncOption"] = ["PruneLast=true"]
    result = dry_run([application], ARGOCD_NAMESPACE)
    assert result.returncode != 0 and "syncOption" in result.stderr


def test_the_argo_cd_project_allows_what_the_applications_deploy_and_no_more():
    objects = argocd_objects()
    (project,) = [obj["spec"] for obj in objects if obj["kind"] == "AppProject"]
    # Argo CD refuses to sync a cluster-wide kind the project does not list.
    allowed = {(entry["group"], entry["kind"]) for entry in project["clusterResourceWhitelist"]}
    cluster_wide = {
        (obj["apiVersion"].rpartition("/")[0], obj["kind"])
        for obj in render("prod")
        if "namespace" not in obj["metadata"]
    }
    assert cluster_wide == allowed
    applications = [obj["spec"] for obj in objects if obj["kind"] == "Application"]
    assert [app["destination"] for app in applications] == project["destinations"]
    sources = {source["repoURL"] for app in applications for source in app["sources"]}
    assert sources == set(project["sourceRepos"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_application_gives_helm_the_value_files_the_tests_check(environment):
    (application,) = [
        obj for obj in argocd_objects() if obj["metadata"]["name"] == f"unilim-hub-{environment}"
    ]
    chart_source, values_source = application["spec"]["sources"]
    assert chart_source["chart"] == "unilim-hub"
    assert values_source["ref"] == "values"
    assert chart_source["helm"]["valueFiles"] == [
        f"$values/{path.relative_to(REPO).as_posix()}" for path in value_files(environment)
    ]


def test_helm_renders_for_a_kubernetes_no_older_than_the_local_platforms(tmp_path):
    # Built without the version (helm's own fallback is 1.20), it would lint for an old
    # API and render `.Capabilities.KubeVersion` wrong.
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: version\nversion: 0.1.0\n")
    template = "minor: {{ .Capabilities.KubeVersion.Minor | quote }}\n"
    (tmp_path / "templates" / "version.yaml").write_text(template)
    rendered = yaml.safe_load(helm.helm("template", "version", str(tmp_path)).stdout)
    platform_minor = int(kube.KUBE_VERSION.split(".")[1])
    assert int(rendered["minor"]) >= platform_minor


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_helm_lint_of_our_templates_is_clean(environment):
    files = [f"--values={path}" for path in value_files(environment)]
    result = helm.lint("--strict", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_containerfile_passes_hadolint():
    linter = hadolint.install_hadolint()
    files = sorted(str(p) for p in (REPO / "images").glob("**/Containerfile"))
    result = subprocess.run([str(linter), *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
