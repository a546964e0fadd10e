"""What a start asks of KubeSpawner: the traits each policy answer overrides.

KubeSpawner builds the pod from its traits; unilim-hub only says which traits a profile,
a size (and later a room and the volumes) set, as ``kubespawner_override`` mappings.
"""

from __future__ import annotations

from typing import Any

from .policy.models import Size
from .policy.profiles import Choice

GPU_RESOURCE = "nvidia.com/gpu"


def profile_override(choice: Choice) -> dict[str, Any]:
    """The KubeSpawner traits a profile sets: its image, pinned to the chosen tag."""
    return {"image": choice.image}


def size_override(size: Size) -> dict[str, Any]:
    """The KubeSpawner traits one size sets (KubeSpawner takes CPU in cores)."""
    override: dict[str, Any] = {
        "cpu_guarantee": size.cpu_guarantee / 1000,
        "cpu_limit": size.cpu_limit / 1000,
        "mem_guarantee": size.mem_guarantee,
        "mem_limit": size.mem_limit,
    }
    if size.gpu:
        override["extra_resource_limits"] = {GPU_RESOURCE: str(size.gpu)}
    return override
