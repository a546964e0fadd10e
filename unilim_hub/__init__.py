"""unilim-hub: JupyterHub for teaching on Kubernetes."""

__version__ = "0.1.0.dev0"
