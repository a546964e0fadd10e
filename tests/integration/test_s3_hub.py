"""Each user server's own S3 credentials, issued by the real hub into a Secret, used against
the devenv's real S3 server exactly as a server's boto3 reads them from that Secret."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from devenv import kube
from devenv import s3 as seaweedfs

from .hub import Hub
from .s3_clients import client_from_files, denied, run_id, secret_files, start, stop

USERS, COURSES = seaweedfs.BUCKETS
RUN = run_id()
ANNA, BRUNO, TEACHER = f"s3anna{RUN}", f"s3bruno{RUN}", f"s3tess{RUN}"
COURSE = f"s3c{RUN}"
REFRESH = 8  # seconds between renewals in this hub (the duration is STS's minimum, 900 s)
PORTS = (18200, 18201, 18281)


def hub_config(endpoint: str | None = None, *, strict: bool = False) -> str:
    """Credentials from the devenv's S3 server: its endpoint and the hub's keys there are
    set by the devenv's hub configuration; ``endpoint`` replaces the server's address."""
    elsewhere = f"c.UnilimSpawner.s3_endpoint = {endpoint!r}" if endpoint else ""
    return f"""
c.UnilimSpawner.s3_mode = "sts"
{elsewhere}
c.UnilimSpawner.s3_credentials_duration = 900
c.UnilimSpawner.s3_refresh_interval = {REFRESH}
c.UnilimSpawner.s3_strict = {strict!r}
c.KubeSpawner.http_timeout = 180  # a loaded 2-core machine starts JupyterLab slowly
"""


@pytest.fixture(scope="module")
def s3_hub(platform: list[str], s3: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = Hub(tmp_path_factory.mktemp("s3-hub"), ports=PORTS)
    hub.start(hub_config())
    try:
        hub.add_user(ANNA, ["student", f"course-{COURSE}"])
        hub.add_user(BRUNO, ["student", f"course-{COURSE}"])
        hub.add_user(TEACHER, ["faculty", f"teacher-{COURSE}"])
        seaweedfs.admin_client().put_object(Bucket=COURSES, Key=f"{COURSE}/tp1.ipynb", Body=b"{}")
        for name in (ANNA, BRUNO, TEACHER):  # one after the other: the machine is small
            start(hub, name)
            hub.wait_ready(name, timeout=240)
        yield hub
    finally:
        for name in (ANNA, BRUNO, TEACHER):
            stop(hub, name)
        hub.stop()


def pod_of(name: str) -> str:
    return f"jupyter-{name}"


async def files_of(core_v1: client.CoreV1Api, name: str) -> dict[str, str]:
    files = await secret_files(core_v1, pod_of(name))
    assert files is not None, f"no S3 Secret for {name}'s server"
    return files


@pytest.fixture
async def as_user(core_v1: client.CoreV1Api, s3_hub: Hub, tmp_path: Path) -> Any:
    async def make(name: str) -> Any:
        return client_from_files(await files_of(core_v1, name), tmp_path / name)

    return make


async def test_user_cannot_list_read_or_write_another_users_objects(as_user) -> None:
    anna, bruno = await as_user(ANNA), await as_user(BRUNO)
    bruno.put_object(Bucket=USERS, Key=f"users/{BRUNO}/notes.txt", Body=b"bruno's")
    anna.put_object(Bucket=USERS, Key=f"users/{ANNA}/notes.txt", Body=b"anna's")
    assert anna.get_object(Bucket=USERS, Key=f"users/{ANNA}/notes.txt")["Body"].read() == b"anna's"
    listed = anna.list_objects_v2(Bucket=USERS, Prefix=f"users/{ANNA}/")
    assert [o["Key"] for o in listed["Contents"]] == [f"users/{ANNA}/notes.txt"]

    assert denied(lambda: anna.get_object(Bucket=USERS, Key=f"users/{BRUNO}/notes.txt"))
    assert denied(lambda: anna.list_objects_v2(Bucket=USERS, Prefix=f"users/{BRUNO}/"))
    assert denied(lambda: anna.list_objects_v2(Bucket=USERS, Prefix="users/"))
    assert denied(lambda: anna.put_object(Bucket=USERS, Key=f"users/{BRUNO}/x", Body=b"!"))
    assert denied(lambda: anna.delete_object(Bucket=USERS, Key=f"users/{BRUNO}/notes.txt"))
    # Nothing above changed Bruno's object.
    assert (
        bruno.get_object(Bucket=USERS, Key=f"users/{BRUNO}/notes.txt")["Body"].read() == b"bruno's"
    )


async def test_student_reads_course_data_but_cannot_write_or_delete_it(as_user) -> None:
    anna = await as_user(ANNA)
    key = f"{COURSE}/tp1.ipynb"
    assert anna.get_object(Bucket=COURSES, Key=key)["Body"].read() == b"{}"
    assert key in [
        o["Key"] for o in anna.list_objects_v2(Bucket=COURSES, Prefix=f"{COURSE}/")["Contents"]
    ]
    assert denied(lambda: anna.put_object(Bucket=COURSES, Key=f"{COURSE}/answers.txt", Body=b"!"))
    assert denied(lambda: anna.delete_object(Bucket=COURSES, Key=key))
    assert seaweedfs.admin_client().get_object(Bucket=COURSES, Key=key)["Body"].read() == b"{}"


async def test_teacher_writes_and_deletes_course_data(as_user) -> None:
    teacher = await as_user(TEACHER)
    key = f"{COURSE}/tp2.ipynb"
    teacher.put_object(Bucket=COURSES, Key=key, Body=b"tp2")
    assert (await as_user(ANNA)).get_object(Bucket=COURSES, Key=key)["Body"].read() == b"tp2"
    teacher.delete_object(Bucket=COURSES, Key=key)
    assert denied(lambda: seaweedfs.admin_client().head_object(Bucket=COURSES, Key=key))


async def test_pod_spec_names_the_files_and_never_holds_the_keys(core_v1, s3_hub) -> None:
    pod = await core_v1.read_namespaced_pod(pod_of(ANNA), kube.USER_NAMESPACE)
    files = await files_of(core_v1, ANNA)
    keys = [
        files["credentials"].split(f"{field} = ")[1].split()[0]
        for field in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
    ]
    env = {var.name: var.value for var in pod.spec.containers[0].env}
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/etc/unilim/s3/credentials"
    assert env["AWS_CONFIG_FILE"] == "/etc/unilim/s3/config"
    events = await core_v1.list_namespaced_event(
        kube.USER_NAMESPACE, field_selector=f"involvedObject.name={pod_of(ANNA)}"
    )
    log = s3_hub.log_path.read_text()
    for key in keys:
        assert key not in str(pod.to_dict()) and key not in log
        assert key not in str(events.to_dict())


async def test_credentials_are_renewed_while_the_server_runs(core_v1, s3_hub, tmp_path) -> None:
    first = await files_of(core_v1, ANNA)
    secret = await core_v1.read_namespaced_secret(f"{pod_of(ANNA)}-s3", kube.USER_NAMESPACE)
    [owner] = secret.metadata.owner_references  # garbage-collected with the pod
    assert (owner.kind, owner.name) == ("Pod", pod_of(ANNA))

    deadline = time.monotonic() + 4 * REFRESH
    while (renewed := await files_of(core_v1, ANNA)) == first:
        assert time.monotonic() < deadline, "the credentials were not renewed"
        await asyncio.sleep(1)
    expiration = {
        name: datetime.fromisoformat(f["expiration"].strip())
        for name, f in (("first", first), ("renewed", renewed))
    }
    assert expiration["renewed"] > expiration["first"]
    # Both work until the old ones expire; the server was never restarted.
    for files, folder in ((first, "old"), (renewed, "new")):
        anna = client_from_files(files, tmp_path / folder)
        anna.put_object(Bucket=USERS, Key=f"users/{ANNA}/{folder}.txt", Body=b".")
    assert s3_hub.api("GET", f"/users/{ANNA}").json()["servers"][""]["ready"]


@pytest.mark.slow  # waits 15 minutes, STS's shortest duration: `./dev slow`, not `./dev test`
async def test_old_credentials_stop_working_when_they_expire(core_v1, s3_hub, tmp_path) -> None:
    old = await files_of(core_v1, BRUNO)
    bruno = client_from_files(old, tmp_path / "old")
    bruno.put_object(Bucket=USERS, Key=f"users/{BRUNO}/before.txt", Body=b".")
    expires = datetime.fromisoformat(old["expiration"].strip())
    await asyncio.sleep(max(0.0, (expires - datetime.now(expires.tzinfo)).total_seconds()) + 5)
    assert denied(lambda: bruno.put_object(Bucket=USERS, Key=f"users/{BRUNO}/after.txt", Body=b"."))
    renewed = client_from_files(await files_of(core_v1, BRUNO), tmp_path / "new")
    renewed.put_object(Bucket=USERS, Key=f"users/{BRUNO}/after.txt", Body=b".")


async def test_course_s3_data_switched_off_is_not_in_the_next_servers_credentials(
    s3_hub, as_user
) -> None:
    s3_hub.set_properties(f"course-{COURSE}", {"course.s3": "off"})
    try:
        stop(s3_hub, BRUNO)
        s3_hub.wait_stopped(BRUNO)
        start(s3_hub, BRUNO)
        s3_hub.wait_ready(BRUNO, timeout=240)
        bruno = await as_user(BRUNO)
        assert denied(lambda: bruno.get_object(Bucket=COURSES, Key=f"{COURSE}/tp1.ipynb"))
        assert denied(lambda: bruno.list_objects_v2(Bucket=COURSES, Prefix=f"{COURSE}/"))
        bruno.put_object(Bucket=USERS, Key=f"users/{BRUNO}/still.txt", Body=b".")  # own kept
        # Anna's server, started before the switch, keeps its access until it restarts.
        anna = await as_user(ANNA)
        assert anna.get_object(Bucket=COURSES, Key=f"{COURSE}/tp1.ipynb")["Body"].read() == b"{}"
    finally:
        s3_hub.set_properties(f"course-{COURSE}", {})


async def test_stopping_the_server_deletes_its_secret(core_v1, s3_hub) -> None:
    stop(s3_hub, TEACHER)
    s3_hub.wait_stopped(TEACHER)
    assert await secret_files(core_v1, pod_of(TEACHER)) is None


def _guide_examples() -> dict[str, str]:
    """The Python blocks of the user guide's S3 section, by the subsection they are in."""
    text = (Path(__file__).parents[2] / "docs" / "users" / "files.md").read_text()
    blocks: dict[str, str] = {}
    for section in text.split("\n### ")[1:]:
        title, _, body = section.partition("\n")
        if "```python\n" in body:
            blocks[title.strip()] = body.split("```python\n")[1].split("```")[0]
    return blocks


@pytest.mark.parametrize("section", ["boto3", "s3fs and pandas"])
async def test_user_guide_examples_work_as_written_in_a_server(core_v1, s3_hub, tmp_path, section):
    """Run by the single-user image's S3 clients (their own venv, pinned as the image's),
    with the environment of Anna's pod: its variables, the files of its Secret."""
    files = await files_of(core_v1, ANNA)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    pod = await core_v1.read_namespaced_pod(pod_of(ANNA), kube.USER_NAMESPACE)
    env = {var.name: var.value for var in pod.spec.containers[0].env if var.value is not None}
    env = {k: v for k, v in env.items() if k.startswith(("UNILIM_S3_", "JUPYTERHUB_USER"))}
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "PATH": os.environ["PATH"],
        "NO_PROXY": "127.0.0.0/8",
    }
    code = _guide_examples()[section].replace('"info101/"', repr(f"{COURSE}/"))
    done = subprocess.run(
        [str(seaweedfs.clients_python()), "-c", code],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    if section == "boto3":
        assert "b'Bonjour'" in done.stdout and f"{COURSE}/tp1.ipynb" in done.stdout
    else:
        assert f"users/{ANNA}/notes.txt" in done.stdout
