"""Prometheus metrics, served by the hub on /hub/metrics with JupyterHub's own."""

from prometheus_client import Counter, Gauge, Histogram

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

# Admission (docs/admins/quotas.md, docs/operators/rush.md); unilim_group_usage is read
# from the live view at each scrape (unilim_hub.admission.GroupUsageCollector).
GROUP_LIMIT = Gauge(
    "unilim_group_limit",
    "A group's limit, as of its last start request (absent: no limit of that kind).",
    ["group", "resource"],
)
QUEUE_LENGTH = Gauge(
    "unilim_pod_creation_queue_length",
    "Starts waiting for a slot to create their pod (UnilimSpawner.pod_creation_concurrency).",
)
QUEUE_WAIT = Histogram(
    "unilim_pod_creation_queue_wait_seconds",
    "How long starts waited for a slot to create their pod.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
API_RETRIES = Counter(
    "unilim_pod_creation_retries",
    "Pod creations retried after a transient API server failure (timeout, 429, 5xx, reset).",
)

# Rooms (docs/operators/rooms.md).
PLACEMENTS = Counter(
    "unilim_room_placements",
    "Servers sent to a room (the room placement preferred; the scheduler binds them).",
    ["room"],
)
ROOM_SERVERS = Gauge(
    "unilim_room_servers",
    "User servers in a room, as of the last start: on its nodes, waiting for one, in flight.",
    ["room"],
)
ROOM_OPEN = Gauge(
    "unilim_room_open",
    "1 if the room takes new servers (some node Ready and schedulable, not in maintenance).",
    ["room"],
)
ROOM_NODES = Gauge(
    "unilim_room_nodes",
    "Nodes of a room, as of the last start: all of them (state=total), and those that take "
    "new pods (state=ready: Ready, schedulable, without the node controller's taints).",
    ["room", "state"],
)
ROOM_CAPACITY = Gauge(
    "unilim_room_capacity",
    "What the room's ready nodes can hold, as of the last start: servers (pods, maxPods), "
    "cpu (cores) and memory (bytes) allocatable.",
    ["room", "resource"],
)
ROOM_FREE = Gauge(
    "unilim_room_free",
    "What the room's ready nodes have left for new servers, as of the last start (pods, "
    "cpu and memory guaranteed to the pods there subtracted).",
    ["room", "resource"],
)
LOST_SERVERS = Counter(
    "unilim_room_lost_servers",
    "Servers found lost with their node (not Ready for UnilimSpawner.lost_node_grace, or "
    "deleted) and stopped; the hub log names each user.",
    ["room"],
)
