"""Kubernetes control plane of the devenv: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler (all built from upstream releases), kubectl.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import time
from functools import cache
from pathlib import Path

from devenv import gobuild, helm, paths, pki, ports, procs
from devenv.component import Component, step

KUBE_VERSION = os.environ.get("UNILIM_KUBE_VERSION", "v1.36.3")
ETCD_VERSION = os.environ.get("UNILIM_ETCD_VERSION", "v3.6.16")
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")

# Service cluster IPs are never routed here (no kube-proxy); a loopback range
# guarantees that even a stray connection to one stays on this machine.
SERVICE_CIDR = "127.96.0.0/16"
SERVICE_IP = "127.96.0.1"

# Where the hub runs user servers (Zero to JupyterHub installs into "jupyterhub" by convention).
USER_NAMESPACE = "jupyterhub"


def kube_binary(command: str) -> Path:
    return paths.binary(command, KUBE_VERSION)


def build_kubernetes() -> None:
    """Build the four Kubernetes commands with a wrapper module (see gobuild)."""
    if all(kube_binary(c).exists() for c in KUBE_COMMANDS):
        return
    staging = "v0." + KUBE_VERSION.split(".", 1)[1]  # v1.36.3 -> v0.36.3
    workdir = paths.BUILD / f"kubernetes-{KUBE_VERSION}"
    log = workdir / "build.log"
    with step(f"download k8s.io/kubernetes {KUBE_VERSION}"):
        gomod = gobuild.download_gomod("k8s.io/kubernetes", KUBE_VERSION)
    replaces = {mod: staging for mod in gobuild.local_replaces(gomod)}
    go = gobuild.go_directive(gomod)
    gobuild.write_wrapper(workdir, {"k8s.io/kubernetes": KUBE_VERSION}, replaces, go)
    ldflags = gobuild.version_ldflags(
        ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"], KUBE_VERSION
    )
    for command in KUBE_COMMANDS:
        if kube_binary(command).exists():
            continue
        with step(f"build {command} {KUBE_VERSION} (several minutes; log {log})"):
            gobuild.go_build(
                workdir, f"k8s.io/kubernetes/cmd/{command}", kube_binary(command), ldflags, log
            )


_ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""


def build_etcd() -> None:
    """etcd's server module replaces its sibling modules locally: same wrapper trick."""
    if paths.binary("etcd", ETCD_VERSION).exists():
        return
    workdir = paths.BUILD / f"etcd-{ETCD_VERSION}"
    log = workdir / "build.log"
    gomod = gobuild.download_gomod("go.etcd.io/etcd/server/v3", ETCD_VERSION)
    replaces = {mod: ETCD_VERSION for mod in gobuild.local_replaces(gomod)}
    go = gobuild.go_directive(gomod)
    gobuild.write_wrapper(workdir, {"go.etcd.io/etcd/server/v3": ETCD_VERSION}, replaces, go)
    (workdir / "main.go").write_text(_ETCD_MAIN)
    ldflags = f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=release-{ETCD_VERSION}"
    with step(f"build etcd {ETCD_VERSION} (log {log})"):
        gobuild.go_build(workdir, ".", paths.binary("etcd", ETCD_VERSION), ldflags, log)


# Seconds per API request. An API server that accepts connections but never answers
# would otherwise hang `up` (and every status line) forever.
KUBECTL_TIMEOUT = 30


def kubectl(
    *args: str, input: str | None = None, check: bool = True, kubeconfig: Path | None = None
) -> str:
    """Run the devenv's kubectl (as the admin unless `kubeconfig`); returns stdout."""
    result = run_kubectl(*args, input=input, kubeconfig=kubeconfig)
    if check and result.returncode != 0:
        what = f"kubectl {' '.join(args)} (API server {pki.server_url()})"
        raise procs.StartError(f"{what} failed: {result.stderr.strip()}")
    return result.stdout


def run_kubectl(
    *args: str, input: str | None = None, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the devenv's kubectl and return what it did, exit status included."""
    argv = [
        str(kube_binary("kubectl")),
        f"--kubeconfig={kubeconfig or paths.KUBECONFIG}",
        f"--request-timeout={KUBECTL_TIMEOUT}s",
        *args,
    ]
    try:
        # Our own limit too: a request timeout does not cover every way kubectl can wait.
        return subprocess.run(
            argv,
            input=input,
            check=False,
            capture_output=True,
            text=True,
            env=procs.clean_env(),
            timeout=2 * KUBECTL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        what = f"kubectl {' '.join(args)} (API server {pki.server_url()})"
        raise procs.StartError(f"{what}: no answer in {2 * KUBECTL_TIMEOUT} s") from None


def apply(obj: dict[str, object]) -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(obj))


@cache
def _client_context() -> ssl.SSLContext:
    """TLS context that verifies the API server and presents the admin cert."""
    context = ssl.create_default_context(cafile=str(pki.CA_CERT))
    context.load_cert_chain(str(pki.PKI / "admin.crt"), str(pki.PKI / "admin.key"))
    return context


def _unverified() -> ssl.SSLContext:
    """controller-manager and scheduler serve /healthz with a self-signed cert."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Etcd(Component):
    name = "etcd"

    def install(self) -> None:
        build_etcd()

    def healthy(self) -> bool:
        return procs.http_ok(f"http://{ports.HOST}:{ports.ETCD_CLIENT}/health")

    def launch(self) -> None:
        client = f"http://{ports.HOST}:{ports.ETCD_CLIENT}"
        peer = f"http://{ports.HOST}:{ports.ETCD_PEER}"
        argv = [
            str(paths.binary("etcd", ETCD_VERSION)),
            "--name=devenv",
            f"--data-dir={paths.data_dir(self.name)}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=devenv={peer}",
            f"--listen-metrics-urls=http://{ports.HOST}:{ports.ETCD_METRICS}",
            "--quota-backend-bytes=2147483648",
            "--log-level=warn",
        ]
        procs.start(self.name, argv)
        procs.wait_ready(self.name, self.healthy, 30, "etcd")

    def describe(self) -> str:
        return f"{super().describe()} etcd {ETCD_VERSION} http://{ports.HOST}:{ports.ETCD_CLIENT}"


class KubeApiserver(Component):
    name = "kube-apiserver"

    def install(self) -> None:
        build_kubernetes()
        pki.ensure(SERVICE_IP)
        pki.write_kubeconfig("admin", paths.KUBECONFIG)

    def healthy(self) -> bool:
        if not pki.CA_CERT.exists():
            return False
        return procs.http_ok(f"{pki.server_url()}/readyz", context=_client_context())

    def launch(self) -> None:
        p = pki.PKI
        argv = [
            str(kube_binary(self.name)),
            f"--etcd-servers=http://{ports.HOST}:{ports.ETCD_CLIENT}",
            f"--bind-address={ports.HOST}",
            f"--advertise-address={ports.HOST}",
            f"--secure-port={ports.KUBE_APISERVER}",
            f"--tls-cert-file={p / 'apiserver.crt'}",
            f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--client-ca-file={pki.CA_CERT}",
            "--authorization-mode=RBAC",
            f"--requestheader-client-ca-file={pki.CA_CERT}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={p / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={p / 'front-proxy-client.key'}",
            f"--service-account-issuer={pki.server_url()}",
            f"--service-account-key-file={pki.SA_PUB}",
            f"--service-account-signing-key-file={pki.SA_KEY}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # The `kubernetes` Service endpoint would be 127.0.0.1, which Endpoints refuse.
            "--endpoint-reconciler-type=none",
            # Privileged pods are then refused by Pod Security Admission, not by this flag.
            "--allow-privileged=true",
            "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false",
            "--max-requests-inflight=800",
            "--max-mutating-requests-inflight=400",
        ]
        procs.start(self.name, argv)
        procs.wait_ready(self.name, self.healthy, 90, "kube-apiserver /readyz")

    def describe(self) -> str:
        return f"{super().describe()} {KUBE_VERSION} {pki.server_url()}"


class _KubeController(Component):
    """controller-manager and scheduler: same auth and serving flags."""

    port = 0
    extra: tuple[str, ...] = ()

    def kubeconfig(self) -> Path:
        return paths.state_dir(self.name) / "kubeconfig"

    def install(self) -> None:
        build_kubernetes()
        pki.write_kubeconfig(self.name, self.kubeconfig())

    def healthy(self) -> bool:
        url = f"https://{ports.HOST}:{self.port}/healthz"
        return procs.http_ok(url, context=_unverified())

    def launch(self) -> None:
        kc = self.kubeconfig()
        argv = [
            str(kube_binary(self.name)),
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            f"--bind-address={ports.HOST}",
            f"--secure-port={self.port}",
            f"--cert-dir={paths.data_dir(self.name)}",
            "--leader-elect=false",
            "--profiling=false",
            *self.extra,
        ]
        procs.start(self.name, argv)
        procs.wait_ready(self.name, self.healthy, 60, f"{self.name} /healthz")

    def describe(self) -> str:
        return f"{super().describe()} {KUBE_VERSION} https://{ports.HOST}:{self.port}"


class KubeControllerManager(_KubeController):
    name = "kube-controller-manager"
    port = ports.KUBE_CONTROLLER_MANAGER
    extra = (
        f"--service-account-private-key-file={pki.SA_KEY}",
        f"--root-ca-file={pki.CA_CERT}",
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--kube-api-qps=100",
        "--kube-api-burst=200",
    )


class KubeScheduler(_KubeController):
    name = "kube-scheduler"
    port = ports.KUBE_SCHEDULER


def ensure_user_namespace() -> None:
    """The namespace where user pods run, with PSA `restricted` enforced."""
    level = "restricted"
    apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": USER_NAMESPACE,
                "labels": {
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": level,
                    "pod-security.kubernetes.io/audit": level,
                },
            },
        }
    )
    # Pods are refused until the ServiceAccount controller created `default`.
    procs.wait_ready(
        "kube-controller-manager",
        lambda: bool(
            kubectl(
                "-n", USER_NAMESPACE, "get", "serviceaccount", "default", "-o", "name", check=False
            ).strip()
        ),
        60,
        f"ServiceAccount default in {USER_NAMESPACE}",
    )


HUB_ACCOUNT = "hub"
HUB_USER = f"system:serviceaccount:{USER_NAMESPACE}:{HUB_ACCOUNT}"
HUB_KUBECONFIG = paths.STATE / "hub-kubeconfig"
HUB_TOKEN_HOURS = 720
# `up` renews the token once less than this is left (seconds), so that a test session
# or a demo started on an old token does not see it expire half-way.
HUB_TOKEN_MARGIN = 24 * 3600


def hub_rbac() -> str:
    """The hub's Role, ClusterRole and their bindings, rendered from the chart
    (helm/unilim-hub, templates/hub/rbac.yaml): the hub of the tests and the demo has
    exactly the rights the chart gives it in production. (Zero to JupyterHub's own Role
    adds nothing: its rules are a subset of these.)"""
    return helm.render("--show-only=templates/hub/rbac.yaml", namespace=USER_NAMESPACE)


def ensure_hub_rbac() -> None:
    # Zero to JupyterHub makes the ServiceAccount in production; here the devenv does.
    account = {"name": HUB_ACCOUNT, "namespace": USER_NAMESPACE}
    apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": account})
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=hub_rbac())


def hub_rbac_is_the_charts() -> bool:
    """The live RBAC objects are what the chart renders now (else `up` applies it again):
    compared with the API server's own objects, so that whatever changed them (another
    checkout's devenv, a hand edit) is seen."""
    if not helm.helm_binary().exists():
        return False  # not built yet: `up` builds it (a status line never does)
    diff = run_kubectl("diff", "--server-side", "--force-conflicts", "-f", "-", input=hub_rbac())
    return diff.returncode == 0  # 1: differences, >1: kubectl failed


def ensure_hub_identity() -> None:
    """A ServiceAccount for the hub, with only the rights KubeSpawner needs, and a
    kubeconfig at STATE/hub-kubeconfig holding a token for it (as the hub's pod has)."""
    ensure_hub_rbac()
    duration = f"--duration={HUB_TOKEN_HOURS}h"
    token = kubectl("-n", USER_NAMESPACE, "create", "token", HUB_ACCOUNT, duration).strip()
    config = pki.kubeconfig("admin")
    config["users"] = [{"name": HUB_ACCOUNT, "user": {"token": token}}]
    config["contexts"] = [{
        "name": "unilim-devenv",
        "context": {"cluster": "unilim-devenv", "user": HUB_ACCOUNT,
                    "namespace": USER_NAMESPACE},
    }]  # fmt: skip
    # Hubs of other sessions may be reading it: replace it whole, never half-written.
    partial = HUB_KUBECONFIG.with_name(HUB_KUBECONFIG.name + ".partial")
    partial.write_text(json.dumps(config, indent=2) + "\n")
    partial.chmod(0o600)
    os.replace(partial, HUB_KUBECONFIG)


def _token_expiry(token: str) -> float:
    """The `exp` claim of a JWT (read, not verified: the API server verifies it)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])


def hub_identity_works() -> bool:
    """The API server takes the hub's token as the hub's account, for a while yet.

    The token expires after HUB_TOKEN_HOURS, and a restart with new service-account
    keys invalidates it: the file existing proves nothing, every hub call would get 401.
    """
    try:
        token = json.loads(HUB_KUBECONFIG.read_text())["users"][0]["user"]["token"]
        if _token_expiry(token) - time.time() < HUB_TOKEN_MARGIN:
            return False
    except (OSError, ValueError, LookupError, TypeError):
        return False
    whoami = ("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    return kubectl(*whoami, check=False, kubeconfig=HUB_KUBECONFIG).strip() == HUB_USER
