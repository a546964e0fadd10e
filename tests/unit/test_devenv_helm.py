"""The helm of the tests, built from its Go module (devenv/helm.py): the Kubernetes version
it assumes offline, for `.Capabilities.KubeVersion` and lint's deprecation checks."""

from __future__ import annotations

import pytest

from devenv import helm, procs

GOMOD = """module helm.sh/helm/v3

require (
\tgithub.com/spf13/cobra v1.10.1
\tk8s.io/api v0.37.2
\tk8s.io/client-go v0.37.2
)
"""


def test_helm_assumes_the_kubernetes_of_its_client_go_in_lint_and_templates():
    flags = helm.kubernetes_ldflags(GOMOD)
    assert flags == [
        f"-X helm.sh/helm/v3/{package}.{variable}"
        for package in ("pkg/lint/rules", "pkg/chartutil")
        for variable in ("k8sVersionMajor=1", "k8sVersionMinor=37")
    ]


def test_a_go_mod_without_client_go_stops_the_build_saying_so():
    with pytest.raises(procs.StartError, match=r"no k8s\.io/client-go in the go\.mod"):
        helm.kubernetes_ldflags(GOMOD.replace("client-go", "apimachinery"))
