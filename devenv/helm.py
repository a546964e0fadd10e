"""helm, built from its Go module, and the rendering of our chart (helm/unilim-hub).

The Zero to JupyterHub chart the overlay depends on cannot be downloaded here, so every
rendering disables it (`jupyterhub.enabled=false`): what renders is ours alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from devenv import gobuild, paths, procs
from devenv.component import step

HELM_VERSION = os.environ.get("UNILIM_HELM_VERSION", "v3.22.0")
HELM_MODULE = "helm.sh/helm/v3"
CHART = Path(__file__).resolve().parent.parent / "helm" / "unilim-hub"
RELEASE = "unilim-hub"
_CLIENT_GO = re.compile(r"^\s*k8s\.io/client-go\s+v0\.(\d+)\.", re.MULTILINE)


def helm_binary() -> Path:
    return paths.binary("helm", HELM_VERSION)


def kubernetes_ldflags(gomod: str) -> list[str]:
    """The Kubernetes version helm assumes offline (`.Capabilities.KubeVersion`, lint's
    deprecation checks): from its client-go, as helm's Makefile does (v0.37 -> 1.37)."""
    found = _CLIENT_GO.search(gomod)
    if found is None:
        raise procs.StartError(f"no k8s.io/client-go in the go.mod of {HELM_MODULE}")
    minor = found.group(1)
    return [
        f"-X {HELM_MODULE}/{pkg}.{var}"
        for pkg in ("pkg/lint/rules", "pkg/chartutil")
        for var in ("k8sVersionMajor=1", f"k8sVersionMinor={minor}")
    ]


def build_helm() -> Path:
    """`go install` helm once into the versioned binary cache; the path of the binary."""
    binary = helm_binary()
    if binary.exists():
        return binary
    gomod = gobuild.download_gomod(HELM_MODULE, HELM_VERSION)
    version = f"-X {HELM_MODULE}/internal/version"
    flags = ["-s", "-w", f"{version}.version={HELM_VERSION}", f"{version}.gitTreeState=clean"]
    ldflags = " ".join([*flags, *kubernetes_ldflags(gomod)])
    gobin = paths.BUILD / f"helm-{HELM_VERSION}"
    log = gobin / "build.log"
    gobin.mkdir(parents=True, exist_ok=True)
    package = f"{HELM_MODULE}/cmd/helm@{HELM_VERSION}"
    argv = ["go", "install", "-trimpath", "-ldflags", ldflags, package]
    with step(f"build helm {HELM_VERSION} (a few minutes; log {log})"), open(log, "ab") as out:
        result = subprocess.run(
            argv, env=gobuild.go_env({"GOBIN": str(gobin)}), stdout=out, stderr=out, check=False
        )
    if result.returncode != 0:
        raise procs.StartError(
            f"go install helm {HELM_VERSION} failed (exit {result.returncode})\n"
            f"log: {log}\n--- last lines ---\n{procs.tail(log)}"
        )
    binary.parent.mkdir(parents=True, exist_ok=True)
    os.replace(gobin / "helm", binary)
    return binary


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the cached helm (built on first use), with its state kept out of $HOME."""
    home = paths.state_dir("helm")
    env = procs.clean_env(
        {
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
    )
    argv = [str(build_helm()), *args]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if check and result.returncode != 0:
        raise procs.StartError(f"helm {' '.join(args)} failed: {result.stderr.strip()}")
    return result


@contextlib.contextmanager
def chart_alone() -> Iterator[Path]:
    """A copy of our chart with an empty stand-in for its Zero to JupyterHub dependency.

    helm refuses to render a chart whose dependency is missing from charts/, disabled or
    not. The stand-in has only the dependency's name and version, so Chart.yaml stays
    exactly the one Argo CD renders, and with `jupyterhub.enabled=false` nothing of it
    renders anyway.
    """
    with tempfile.TemporaryDirectory(prefix="unilim-chart-") as tmp:
        copy = Path(tmp) / CHART.name
        shutil.copytree(CHART, copy, ignore=shutil.ignore_patterns("charts", "*.tgz"))
        standin = copy / "charts" / "jupyterhub"
        standin.mkdir(parents=True)
        (standin / "Chart.yaml").write_text(_STANDIN)
        yield copy


_STANDIN = """apiVersion: v2
name: jupyterhub
version: 4.4.0
description: Empty stand-in for Zero to JupyterHub (devenv/helm.py, chart_alone)
"""
_ALONE = "--set=jupyterhub.enabled=false"


def render(*args: str, namespace: str = "jupyterhub") -> str:
    """`helm template` of our chart alone (the Zero to JupyterHub dependency disabled)."""
    with chart_alone() as chart:
        argv = ["template", RELEASE, str(chart), f"--namespace={namespace}", _ALONE, *args]
        return helm(*argv).stdout


def lint(*args: str) -> subprocess.CompletedProcess[str]:
    """`helm lint` of our chart alone: its answer, whatever it is."""
    with chart_alone() as chart:
        return helm("lint", str(chart), _ALONE, *args, check=False)


if __name__ == "__main__":
    # `python -m devenv.helm ARGS...`: the cached helm (built on first use), as CI calls it.
    completed = helm(*sys.argv[1:], check=False)
    print(completed.stdout, end="")
    print(completed.stderr, end="", file=sys.stderr)
    sys.exit(completed.returncode)
