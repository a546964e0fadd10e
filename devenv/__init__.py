"""Local development platform for unilim-hub.

Runs real upstream components (Kubernetes control plane, KWOK fake nodes, Keycloak,
SeaweedFS S3, configurable-http-proxy) as plain processes bound to 127.0.0.1, so that
tests and the demo exercise the real things without a container engine.
"""
