"""Every fixed port of the devenv, all on loopback.

Nothing in the devenv may bind or contact an address outside 127.0.0.0/8.
"""

from __future__ import annotations

HOST = "127.0.0.1"

# Kubernetes control plane
ETCD_CLIENT = 23790
ETCD_PEER = 23800
ETCD_METRICS = 23810
KUBE_APISERVER = 16443
KUBE_CONTROLLER_MANAGER = 10257
KUBE_SCHEDULER = 10259

# KWOK controller (fake kubelets): health/metrics server
KWOK = 10247

# Pod runner health endpoint
PODRUNNER = 10248

# Keycloak (added/used by the keycloak component)
KEYCLOAK = 18080
KEYCLOAK_MANAGEMENT = 19000

# SeaweedFS `weed mini`: every listener is pinned here (gRPC would default to http + 10000)
SEAWEEDFS_S3 = 18333
SEAWEEDFS_S3_GRPC = 28333
SEAWEEDFS_MASTER = 19333
SEAWEEDFS_MASTER_GRPC = 29333
SEAWEEDFS_VOLUME = 19340
SEAWEEDFS_VOLUME_GRPC = 29340
SEAWEEDFS_FILER = 18888
SEAWEEDFS_FILER_GRPC = 28888
SEAWEEDFS_ADMIN = 19646  # the admin server listens even with its UI off
SEAWEEDFS_ADMIN_GRPC = 29646

# PostgreSQL, the hubs' database server (TCP only, no Unix socket)
POSTGRES = 15432

# configurable-http-proxy and the hub
PROXY_PUBLIC = 8000
PROXY_API = 8001
HUB = 8081
