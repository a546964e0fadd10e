"""Certificates and kubeconfigs of the devenv cluster, made with the openssl CLI.

Real TLS and client-certificate authentication, so that RBAC applies to every
client exactly as on a real cluster: the admin is in system:masters, the
controller-manager and the scheduler use their well-known user names.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devenv import paths, ports, procs

PKI = paths.STATE / "pki"
CA_CERT = PKI / "ca.crt"
CA_KEY = PKI / "ca.key"
SA_KEY = PKI / "sa.key"
SA_PUB = PKI / "sa.pub"

# client certificate name -> subject
CLIENTS = {
    "admin": "/O=system:masters/CN=unilim-devenv-admin",
    "kube-controller-manager": "/CN=system:kube-controller-manager",
    "kube-scheduler": "/CN=system:kube-scheduler",
    # The aggregation layer's identity; also gives the controllers the request-header CA.
    "front-proxy-client": "/CN=front-proxy-client",
}


def _openssl(*args: str) -> None:
    try:
        result = subprocess.run(["openssl", *args], check=False, capture_output=True, text=True)
    except FileNotFoundError:
        raise procs.StartError(
            "the devenv's certificates are made with `openssl`, not found on PATH: "
            "install OpenSSL: apt-get install openssl"
        ) from None
    if result.returncode != 0:
        raise procs.StartError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def _sign(name: str, subject: str, ext: str) -> None:
    key, csr, crt = PKI / f"{name}.key", PKI / f"{name}.csr", PKI / f"{name}.crt"
    extfile = PKI / f"{name}.ext"
    extfile.write_text(ext)
    _openssl("genrsa", "-out", str(key), "2048")
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(CA_CERT),
        "-CAkey",
        str(CA_KEY),
        "-CAcreateserial",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        str(extfile),
        "-out",
        str(crt),
    )
    csr.unlink()


def ensure(service_ip: str) -> None:
    """Create whatever is missing: CA, serving, client and service-account keys."""
    PKI.mkdir(parents=True, exist_ok=True)
    if not CA_CERT.exists():
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(CA_KEY),
            "-out", str(CA_CERT), "-days", "3650", "-subj", "/CN=unilim-devenv-ca",
        )  # fmt: skip
    san = (
        f"IP:{ports.HOST},IP:{service_ip},DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc"
    )
    if not (PKI / "apiserver.crt").exists():
        _sign(
            "apiserver",
            "/CN=kube-apiserver",
            f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n",
        )
    for name, subject in CLIENTS.items():
        if not (PKI / f"{name}.crt").exists():
            _sign(name, subject, "extendedKeyUsage=clientAuth\n")
    if not SA_PUB.exists():
        _openssl("genrsa", "-out", str(SA_KEY), "2048")
        _openssl("rsa", "-in", str(SA_KEY), "-pubout", "-out", str(SA_PUB))


def server_url() -> str:
    return f"https://{ports.HOST}:{ports.KUBE_APISERVER}"


def kubeconfig(user: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "unilim-devenv",
                "cluster": {"server": server_url(), "certificate-authority": str(CA_CERT)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate": str(PKI / f"{user}.crt"),
                    "client-key": str(PKI / f"{user}.key"),
                },
            }
        ],
        "contexts": [
            {"name": "unilim-devenv", "context": {"cluster": "unilim-devenv", "user": user}}
        ],
        "current-context": "unilim-devenv",
    }


def write_kubeconfig(user: str, path: Path) -> Path:
    """Write a kubeconfig (JSON is valid YAML) for one of CLIENTS."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kubeconfig(user), indent=2) + "\n")
    return path
