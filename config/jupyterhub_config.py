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
c.ConfigurableHTTPProxy.command = [str(proxy.install())]
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = str(state / "cookie_secret")

# Single sign-on with the demo realm (the SSO issue refines the claim mapping).
oidc = f"{keycloak.ISSUER}/protocol/openid-connect"
c.UnilimAuthenticator.client_id = keycloak.CLIENT_ID
c.UnilimAuthenticator.client_secret = keycloak.CLIENT_SECRET
c.UnilimAuthenticator.authorize_url = f"{oidc}/auth"
c.UnilimAuthenticator.token_url = f"{oidc}/token"
c.UnilimAuthenticator.userdata_url = f"{oidc}/userinfo"
c.UnilimAuthenticator.oauth_callback_url = (
    f"http://{ports.HOST}:{ports.PROXY_PUBLIC}/hub/oauth_callback"
)
c.UnilimAuthenticator.scope = ["openid", "profile", "email"]
c.UnilimAuthenticator.username_claim = "preferred_username"
c.UnilimAuthenticator.login_service = "Université (Keycloak)"
c.UnilimAuthenticator.manage_groups = True
c.UnilimAuthenticator.auth_state_groups_key = "oauth_user.groups"
c.UnilimAuthenticator.allowed_groups = {"student", "staff", "faculty"}
c.UnilimAuthenticator.admin_groups = {"hub-admins"}
c.UnilimAuthenticator.enable_auth_state = "JUPYTERHUB_CRYPT_KEY" in os.environ

# User servers on the fake nodes; the hub uses its own service account, as in production.
c.KubeSpawner.namespace = kube.USER_NAMESPACE
c.KubeSpawner.start_timeout = 120
c.UnilimSpawner.s3_endpoint = s3.ENDPOINT
