"""Prometheus metrics, served by the hub on /hub/metrics with JupyterHub's own."""

from prometheus_client import Counter

SPAWNS = Counter(
    "unilim_spawns",
    "Servers admitted to start, by profile (course profiles as <course>--<profile>) and size.",
    ["profile", "size"],
)

REFUSALS = Counter(
    "unilim_spawn_refusals",
    "Start requests refused by unilim-hub's policy, by reason.",
    ["reason"],
)
