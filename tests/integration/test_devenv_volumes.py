"""The pod runner's volumes, as the kernel enforces them (devenv/podvolumes.py).

A server runs as a non-root user in its own mount namespace: what it writes in its home
is in the volume's directory afterwards, a read-only course folder refuses its writes, and
a file it wrote before can be saved again as Jupyter saves (access(2) asked first).
Needs root (mount namespaces), as the pod runner has.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devenv import podvolumes
from devenv.podrunner import offline_jupyter_config
from devenv.podvolumes import Mount

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root")

PROBE = """
import os, sys
from jupyter_server.services.contents.fileio import atomic_writing
home = os.environ["HOME"]
print(os.getuid(), os.getgid(), os.getcwd())
with atomic_writing(os.path.join(home, "notes.txt")) as notes:  # written by an earlier server
    notes.write("saved again")
open(os.path.join(home, "work.txt"), "w").write("kept")
print(open(os.path.join(home, "courses", "c1", "readme")).read())
for course in ("c1", "c2"):
    try:
        open(os.path.join(home, "courses", course, "mine.txt"), "w").write("x")
        print(course, "written")
    except OSError as error:
        print(course, "refused", error.errno)
"""


def _run(tmp_path: Path, uid: int) -> list[str]:
    home = Mount(str(tmp_path / "home"), podvolumes.HOME, False)
    mounts = [
        home,
        Mount(str(tmp_path / "read"), f"{podvolumes.HOME}/courses/c1", True),
        Mount(str(tmp_path / "write"), f"{podvolumes.HOME}/courses/c2", False),
    ]
    (tmp_path / "read").mkdir()
    (tmp_path / "read" / "readme").write_text("from the teacher")
    # The volumes are under a folder private to root, as the devenv's are under /root.
    assert os.stat(tmp_path.parent).st_mode & 0o777 == 0o700
    podvolumes.prepare_dirs(mounts, home, uid)
    notes = tmp_path / "home" / "notes.txt"
    notes.write_text("first version")
    os.chown(notes, uid, podvolumes.GROUP)
    argv = podvolumes.launcher([sys.executable, "-c", PROBE], mounts, home, uid)
    done = subprocess.run(
        argv,
        check=False,
        env={**os.environ, "HOME": home.path},
        cwd=home.source,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_server_runs_as_the_pods_user_and_a_read_only_folder_refuses_its_writes(
    tmp_path: Path,
) -> None:
    said = _run(tmp_path, 1000650000)
    assert said[0] == f"1000650000 0 {podvolumes.HOME}"  # a non-root UID, group 0 as on OpenShift
    assert (tmp_path / "home" / "notes.txt").read_text() == "saved again"
    assert said[1] == "from the teacher"
    assert said[2:] == ["c1 refused 30", "c2 written"]  # 30: EROFS, read-only file system
    assert not (tmp_path / "read" / "mine.txt").exists()
    assert (tmp_path / "write" / "mine.txt").read_text() == "x"


def test_a_file_written_in_the_home_is_in_the_volume_after_the_server_exits(
    tmp_path: Path,
) -> None:
    _run(tmp_path, 1000650001)
    written = tmp_path / "home" / "work.txt"
    assert written.read_text() == "kept"
    assert written.stat().st_uid == 1000650001


def test_a_server_starts_again_on_a_home_an_earlier_server_left_ipython_settings_in(
    tmp_path: Path,
) -> None:
    # jupyter_core's start-up (migrate_config) writes into the pod runner's Jupyter config
    # folder when ~/.ipython exists: as the pod's user, that used to end the second start.
    home = Mount(str(tmp_path / "home"), podvolumes.HOME, False)
    podvolumes.prepare_dirs([home], home, 1000650002)
    (tmp_path / "home" / ".ipython").mkdir()
    probe = "from jupyter_core.application import JupyterApp; JupyterApp().migrate_config()"
    argv = podvolumes.launcher([sys.executable, "-c", probe], [home], home, 1000650002)
    config = offline_jupyter_config(tmp_path / "jupyter-config")  # root's, as the devenv's
    env = {**os.environ, "HOME": home.path, "JUPYTER_CONFIG_DIR": str(config)}
    done = subprocess.run(
        argv, check=False, env=env, cwd=home.source, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
