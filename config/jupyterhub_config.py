"""The demo hub's configuration: unilim-hub's policy from config/unilim.yaml.

The local platform (devenv, issue "A real local platform") fills in the addresses of
its Kubernetes API server, Keycloak and S3 server when it starts the demo.
"""

from pathlib import Path

import yaml
from traitlets.config import Config

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

policy = yaml.safe_load((Path(__file__).parent / "unilim.yaml").read_text("utf-8"))
c.merge(Config(policy["hub"]["config"]))

c.JupyterHub.spawner_class = "unilim"
c.JupyterHub.authenticator_class = "unilim"
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.hub_ip = "127.0.0.1"
