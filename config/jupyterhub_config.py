"""The demo hub: unilim-hub's policy from config/unilim.yaml, on the local platform.

Started by `./dev demo` (python -m devenv demo), which brings the platform up first.
Everything here is loopback: Keycloak, the Kubernetes API server, the S3 server, the hub.
"""

import os
import sys
from pathlib import Path

import yaml
from traitlets.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for devenv
from devenv import keycloak, kube, paths, ports, proxy, s3

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

policy = yaml.safe_load((Path(__file__).parent / "unilim.yaml").read_text("utf-8"))
c.merge(Config(policy["hub"]["config"]))

state = paths.STATE / "demo"
state.mkdir(parents=True, exist_ok=True)

c.JupyterHub.spawner_class = "unilim"
c.JupyterHub.authenticator_class = "unilim"
c.JupyterHub.bind_url = f"http://{ports.HOST}:{ports.PROXY_PUBLIC}"
c.JupyterHub.hub_bind_url = f"http://{ports.HOST}:{ports.HUB}"
c.ConfigurableHTTPProxy.api_url = f"http://{ports.HOST}:{ports.PROXY_API}"
c.ConfigurableHTTPProxy.command = [str(proxy.binary())]  # installed by `./dev demo`

# The demo sets up its courses through the REST API, as the course service will.
if demo_token := os.environ.get("UNILIM_DEMO_TOKEN"):
    c.JupyterHub.services = [{"name": "demo-setup", "api_token": demo_token}]
    c.JupyterHub.load_roles = [
        {"name": "demo-setup", "scopes": ["admin:groups"], "services": ["demo-setup"]}
    ]
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = str(state / "cookie_secret")

# Single sign-on with the demo realm: endpoints from Keycloak's discovery document; groups,
# roles, PKCE, auth_state and refresh are UnilimAuthenticator's defaults (docs/admins/sso.md).
# `./dev demo` sets JUPYTERHUB_CRYPT_KEY, which auth_state needs.
c.UnilimAuthenticator.oidc_issuer = keycloak.ISSUER
c.UnilimAuthenticator.client_id = keycloak.CLIENT_ID
c.UnilimAuthenticator.client_secret = keycloak.CLIENT_SECRET
c.UnilimAuthenticator.oauth_callback_url = (
    f"http://{ports.HOST}:{ports.PROXY_PUBLIC}/hub/oauth_callback"
)
c.UnilimAuthenticator.login_service = "Université de Limoges (Keycloak)"

# User servers on the fake nodes; the hub uses its own service account, as in production.
c.KubeSpawner.namespace = kube.USER_NAMESPACE
c.KubeSpawner.start_timeout = 120
c.UnilimSpawner.s3_endpoint = s3.ENDPOINT
