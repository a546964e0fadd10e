"""The operator guide's S3-through-CSI manifests are accepted by the real API server."""

from __future__ import annotations

from pathlib import Path

import yaml

from devenv import kube

GUIDE = Path(__file__).parents[2] / "docs" / "operators" / "s3.md"


def _csi_manifests() -> str:
    section = GUIDE.read_text().split("## Optional: course data as a volume")[1]
    return section.split("```yaml\n")[1].split("```")[0]


def test_csi_volume_manifests_of_the_guide_pass_a_server_side_dry_run(
    platform: list[str],
) -> None:
    text = _csi_manifests()
    kinds = [doc["kind"] for doc in yaml.safe_load_all(text)]
    assert kinds == ["Secret", "PersistentVolume", "PersistentVolumeClaim"]
    out = kube.kubectl(
        "-n", kube.USER_NAMESPACE, "apply", "--dry-run=server", "-f", "-", input=text
    )
    assert out.count("(server dry run)") == 3, out
