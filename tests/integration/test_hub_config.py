"""The real JupyterHub loads unilim-hub's classes and stops on a bad configuration."""

import subprocess
import sys
from pathlib import Path

JUPYTERHUB = [sys.executable, "-m", "jupyterhub"]


def test_jupyterhub_lists_the_unilim_settings():
    result = subprocess.run([*JUPYTERHUB, "--help-all"], capture_output=True, text=True, check=True)
    for trait in (
        "UnilimSpawner.profile_catalog",
        "UnilimSpawner.group_quotas",
        "UnilimSpawner.rooms",
        "UnilimSpawner.s3_mode",
    ):
        assert f"--{trait}=" in result.stdout


def test_the_hub_does_not_start_with_a_bad_configuration(tmp_path: Path):
    (tmp_path / "jupyterhub_config.py").write_text(
        "c = get_config()\n"
        "c.JupyterHub.authenticator_class = 'unilim'\n"
        "c.JupyterHub.spawner_class = 'unilim'\n"
        "c.JupyterHub.bind_url = 'http://127.0.0.1:18999'\n"
        "c.JupyterHub.hub_ip = '127.0.0.1'\n"
        "c.UnilimSite.default_language = 'en'\n"
        "c.UnilimSpawner.group_quotas = {'student': {'memory': '4Gx'}}\n"
    )
    result = subprocess.run(
        [*JUPYTERHUB, "-f", "jupyterhub_config.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "unilim-hub cannot start: the configuration has 1 problem(s)" in result.stderr
    assert (
        "UnilimSpawner.group_quotas['student'].memory: '4Gx' is not an amount of memory"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
