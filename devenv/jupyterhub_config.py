"""The hub of the local platform, for the demo and the tests alike.

One configuration, driven by environment variables (each with the demo's value as default):

UNILIM_HUB_STATE          folder of the hub's cookie secret and its database's name
UNILIM_HUB_DB_URL         the hub's database on the devenv's PostgreSQL, made by the
                          launcher (devenv.postgres.hub_database), so that reading this
                          file (check-config) needs no database server
UNILIM_HUB_PORTS          "public,proxy-api,hub" ports on 127.0.0.1 (8000,8001,8081); the
                          course service listens on the public port + 2
UNILIM_HUB_AUTHENTICATOR  "sso" (UnilimAuthenticator against the devenv's Keycloak) or
                          "dummy" (JupyterHub's DummyAuthenticator, any password)
UNILIM_HUB_LANGUAGE       UnilimSite.default_language (the policy's own default)
UNILIM_HUB_REFRESH_AGE    seconds before SSO groups and roles are asked again (300)
UNILIM_HUB_SERVICE_TOKEN  token of the "devenv" service, which has the admin role
UNILIM_HUB_EXTRA_CONFIG   a configuration file loaded last (a test's own settings)

The policy (catalog, quotas, rooms) is the production example, config/unilim.yaml.
JUPYTERHUB_CRYPT_KEY (auth_state) and KUBECONFIG (the hub's service account) are set by
whoever starts the hub, with the repository on PYTHONPATH: `./dev demo`, or
tests/integration/hub.py.
"""

import os
import sys
from pathlib import Path

import yaml
from traitlets.config import Config

from devenv import keycloak, kube, paths, platform, ports, proxy, s3
from unilim_hub.courses.launch import add_course_service

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

policy = yaml.safe_load((platform.REPO / "config" / "unilim.yaml").read_text("utf-8"))
c.merge(Config(policy["hub"]["config"]))
# Its Python snippets (named servers per group), run as Zero to JupyterHub runs them.
for name, snippet in sorted(policy["hub"].get("extraConfig", {}).items()):
    exec(compile(snippet, f"config/unilim.yaml: hub.extraConfig.{name}", "exec"))

state = Path(os.environ.get("UNILIM_HUB_STATE", paths.STATE / "demo"))  # made by the launcher
default_ports = f"{ports.PROXY_PUBLIC},{ports.PROXY_API},{ports.HUB}"
public, proxy_api, hub = os.environ.get("UNILIM_HUB_PORTS", default_ports).split(",")
public_url = f"http://{ports.HOST}:{public}"

c.JupyterHub.spawner_class = "unilim"
c.JupyterHub.bind_url = public_url
c.JupyterHub.hub_bind_url = f"http://{ports.HOST}:{hub}"
c.ConfigurableHTTPProxy.api_url = f"http://{ports.HOST}:{proxy_api}"
c.ConfigurableHTTPProxy.command = [str(proxy.binary())]  # installed by whoever starts the hub
# On the devenv's PostgreSQL, as in production (a hub restarted in the other room must find
# its database): a database per state folder, found again when the hub restarts on it.
if db_url := os.environ.get("UNILIM_HUB_DB_URL"):
    c.JupyterHub.db_url = db_url
c.JupyterHub.cookie_secret_file = str(state / "cookie_secret")
c.JupyterHub.allow_named_servers = True
if token := os.environ.get("UNILIM_HUB_SERVICE_TOKEN"):
    # Drives the REST API as an admin would: the demo sets up its courses, tests their cases.
    c.JupyterHub.services = [{"name": "devenv", "api_token": token}]
    c.JupyterHub.load_roles = [{"name": "admin", "services": ["devenv"]}]
if language := os.environ.get("UNILIM_HUB_LANGUAGE"):
    c.UnilimSite.default_language = language

if os.environ.get("UNILIM_HUB_AUTHENTICATOR", "sso") == "dummy":
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.allow_all = True
else:
    # Single sign-on with the devenv's realm; groups, roles, PKCE, auth_state and refresh
    # are UnilimAuthenticator's defaults, as the university deploys it (docs/admins/sso.md).
    c.JupyterHub.authenticator_class = "unilim"
    c.UnilimAuthenticator.oidc_issuer = keycloak.ISSUER
    c.UnilimAuthenticator.client_id = keycloak.CLIENT_ID
    c.UnilimAuthenticator.client_secret = keycloak.CLIENT_SECRET
    c.UnilimAuthenticator.oauth_callback_url = f"{public_url}/hub/oauth_callback"
    c.UnilimAuthenticator.login_service = "Université de Limoges (Keycloak)"
    c.UnilimAuthenticator.auth_refresh_age = int(os.environ.get("UNILIM_HUB_REFRESH_AGE", "300"))

# User servers on the fake nodes; the hub uses its own service account, as in production.
c.KubeSpawner.namespace = kube.USER_NAMESPACE
c.KubeSpawner.start_timeout = 120
c.KubeSpawner.http_timeout = 60
c.Spawner.consecutive_failure_limit = 5  # as Zero to JupyterHub sets it
# Every server gets S3 credentials from the devenv's S3 server, as in production; the
# hub's identity there is the devenv's admin (production passes it from a Secret).
c.UnilimSpawner.s3_endpoint = s3.ENDPOINT
c.UnilimSpawner.s3_access_key = s3.ADMIN_ACCESS_KEY
c.UnilimSpawner.s3_secret_key = s3.ADMIN_SECRET_KEY

if extra := os.environ.get("UNILIM_HUB_EXTRA_CONFIG"):
    load_subconfig(extra)  # noqa: F821 (provided by JupyterHub when it loads this file)

# The course service (unilim_hub/courses), started by the hub; last, so that it gets the
# settings as every file above left them.
add_course_service(
    c,
    url=f"http://{ports.HOST}:{int(public) + 2}",
    state_dir=str(state / "courses"),
    command=[sys.executable, "-m", "unilim_hub.courses"],
)
