"""Home volumes outlive their user: deleting an account never deletes the student's work."""

from __future__ import annotations

from kubernetes_asyncio import client

from .hub import Hub


async def test_deleting_a_user_keeps_their_home_volume(
    hub: Hub, core_v1: client.CoreV1Api, user_namespace: str
) -> None:
    name = "hilda"
    hub.add_user(name, ["student"])
    hub.api("POST", f"/users/{name}/server", json={"profile": "python"}).raise_for_status()
    hub.wait_ready(name)
    hub.api("DELETE", f"/users/{name}/server").raise_for_status()
    hub.wait_stopped(name)
    claim = f"claim-{name}"  # KubeSpawner's pvc_name for the user's default server
    await core_v1.create_namespaced_persistent_volume_claim(
        user_namespace,
        {
            "metadata": {"name": claim},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    try:
        hub.api("DELETE", f"/users/{name}").raise_for_status()
        volume = await core_v1.read_namespaced_persistent_volume_claim(claim, user_namespace)
        assert volume.metadata.deletion_timestamp is None
        # KubeSpawner was asked to delete the user's resources, and kept the volume.
        assert f"Not deleting pvc for {name}: {claim}" in hub.log_path.read_text()
    finally:
        await core_v1.delete_namespaced_persistent_volume_claim(claim, user_namespace)
