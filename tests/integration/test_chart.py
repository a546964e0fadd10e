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
from tests.chartvalues import ENVIRONMENTS, REPO, shared_schema, value_files

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
        ("delete", "secrets", kube.USER_NAMESPACE, True),  # a server's S3 Secret
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
