"""`unilim-hub check-config`, run as an admin would run it."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).parents[2]
CONFIG = REPO / "config"


def check_config(path: Path, lang: str = "en") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unilim_hub.cli", "--lang", lang, "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_example_values_and_demo_config_pass():
    for path in (CONFIG / "unilim.yaml", REPO / "devenv" / "jupyterhub_config.py"):
        result = check_config(path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "the configuration is valid" in result.stdout


def test_every_problem_is_printed_at_once(tmp_path):
    path = tmp_path / "jupyterhub_config.py"
    path.write_text(
        "c = get_config()\n"
        "c.UnilimSpawner.group_quotas = {'studnet': {'memory': '4Gx'}}\n"
        "c.UnilimSpawner.rooms = [{'name': 'salle-a', 'node_selector': {}}]\n"
        "c.UnilimSpawner.home_sise = '10G'\n"
    )
    result = check_config(path)
    assert result.returncode == 1
    assert "3 problem" not in result.stdout  # there are four
    assert "4 problem(s) found" in result.stdout
    for key in (
        "group_quotas['studnet']:",
        "group_quotas['studnet'].memory:",
        "rooms[0].node_selector:",
        "UnilimSpawner.home_sise:",
    ):
        assert key in result.stdout
    assert "Did you mean 'student'?" in result.stdout
    assert "Did you mean 'home_size'?" in result.stdout


def test_output_in_french(tmp_path):
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"hub": {"config": {"UnilimSpawner": {"home_size": "-1G"}}}}))
    result = check_config(path, lang="fr")
    assert result.returncode == 1
    assert "1 problème(s) trouvé(s)" in result.stdout
    assert "UnilimSpawner.home_size : " not in result.stdout  # key first, then the message
    assert "est négatif" in result.stdout


def test_values_of_the_overlay_chart_are_read_under_jupyterhub(tmp_path):
    path = tmp_path / "values.yaml"
    path.write_text(
        yaml.safe_dump({"jupyterhub": {"hub": {"config": {"UnilimSpawner": {"s3_mode": "x"}}}}})
    )
    result = check_config(path)
    assert result.returncode == 1 and "UnilimSpawner.s3_mode" in result.stdout


def test_a_config_file_that_does_not_run_is_reported(tmp_path):
    path = tmp_path / "jupyterhub_config.py"
    path.write_text("c = get_config()\nc.UnilimSpawner.rooms = [\n")
    result = check_config(path)
    assert result.returncode == 2
    assert "cannot read the configuration" in result.stderr


def values(tmp_path, authenticator: dict) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"hub": {"config": {"UnilimAuthenticator": authenticator}}}))
    return path


def test_admin_group_spelled_as_a_keycloak_path_is_valid(tmp_path):
    result = check_config(values(tmp_path, {"admin_groups": ["/hub-admins"]}))
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("lang", "said"),
    [("en", "Spelling that would match: hub-admins."),
     ("fr", "Orthographe qui correspondrait : hub-admins.")],
)  # fmt: skip
def test_admin_group_no_claim_can_produce_is_refused_with_the_matching_spelling(
    tmp_path, lang, said
):
    result = check_config(values(tmp_path, {"admin_groups": ["ｈｕｂ－ａｄｍｉｎｓ"]}), lang)
    assert result.returncode == 1
    assert "UnilimAuthenticator.admin_groups['ｈｕｂ－ａｄｍｉｎｓ']" in result.stdout
    assert said in result.stdout


def test_allowed_groups_are_checked_too(tmp_path):
    result = check_config(values(tmp_path, {"allowed_groups": ["/staff/student"]}))
    assert result.returncode == 1
    assert "UnilimAuthenticator.allowed_groups['/staff/student']" in result.stdout
    assert "nested group path" in result.stdout


def test_groups_at_a_dotted_path_are_valid_and_an_ignored_setting_is_reported(tmp_path):
    assert check_config(values(tmp_path, {"groups_claim": "realm_access.roles"})).returncode == 0
    result = check_config(values(tmp_path, {"manage_groups": False}))
    assert result.returncode == 1 and "UnilimAuthenticator.manage_groups" in result.stdout
