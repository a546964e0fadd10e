"""Build Go programs from the Go module proxy into the versioned binary cache.

Kubernetes and etcd keep their libraries as in-repo modules wired with local
`replace` directives, so `go install k8s.io/kubernetes/cmd/x@v` is refused. The
known way: a wrapper module that requires the release and replaces each in-repo
module with its published release, then `go build` the command packages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from devenv import paths, procs
from devenv.component import say

_LOCAL_REPLACE = re.compile(r"^\s*(?:replace\s+)?(\S+)\s*=>\s*\.{1,2}/\S+\s*$")


_GO_DIRECTIVE = re.compile(r"^go\s+(\S+)\s*$", re.MULTILINE)
_GO_RELEASE = re.compile(r"go(\d+)\.(\d+)(?:\.(\d+))?")


def require_go() -> None:
    if shutil.which("go") is None:
        raise procs.StartError("the Go toolchain (`go`) is needed to build the devenv's binaries")


def _release(text: str) -> tuple[int, ...] | None:
    """(1, 26, 0) from "go1.26", "go1.26.8" or "go1.27rc1"; None if there is none."""
    found = _GO_RELEASE.search(text)
    return tuple(int(n or 0) for n in found.groups()) if found else None


def go_directive(gomod: str) -> str:
    """The `go` line of a go.mod ("1.26.0"): the oldest Go that may build the module
    (1.16, Go's default, for a go.mod without one)."""
    found = _GO_DIRECTIVE.search(gomod)
    return found.group(1) if found else "1.16"


def require_go_version(minimum: str, what: str) -> None:
    """Fail now, not minutes into a build: GOTOOLCHAIN=local forbids fetching a newer Go."""
    require_go()
    out = subprocess.run(
        ["go", "version"], check=False, capture_output=True, text=True, env=go_env()
    ).stdout
    found = _release(out)
    if found is None or found < (_release(f"go{minimum}") or (0, 0, 0)):
        raise procs.StartError(
            f"building {what} needs Go >= {minimum}, found {out.strip() or 'no version'}; "
            "install a newer Go from https://go.dev/dl/ (the build never downloads one)"
        )


def go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for `go`: this machine's toolchain only, modules on demand."""
    env = procs.clean_env({"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod -buildvcs=false"})
    # proxies are stripped by clean_env for the servers; the go client keeps its own
    for key in ("GOPROXY", "GONOSUMDB", "GOPRIVATE", "HTTPS_PROXY", "https_proxy"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra or {})
    return env


def _download(module: str, version: str) -> dict[str, str]:
    """`go mod download -json` one module version; its JSON description."""
    require_go()
    paths.CACHE.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        check=False,
        capture_output=True,
        text=True,
        env=go_env(),
        cwd=paths.CACHE,
    )
    info = json.loads(out.stdout or "{}")
    if out.returncode != 0 or "Error" in info:
        raise procs.StartError(
            f"go mod download {module}@{version} failed: {info.get('Error') or out.stderr}"
        )
    return info


def download_gomod(module: str, version: str) -> str:
    """Download a release and return the text of its own go.mod, once this machine's Go
    is known to be recent enough to build it."""
    gomod = Path(_download(module, version)["GoMod"]).read_text()
    require_go_version(go_directive(gomod), f"{module} {version}")
    return gomod


def module_dir(module: str, version: str) -> Path:
    """Download a release and return its source directory in the module cache."""
    return Path(_download(module, version)["Dir"])


def required(gomod: str) -> set[str]:
    """Module paths in a go.mod's require directives."""
    found, in_block = set(), False
    for line in gomod.splitlines():
        words = line.split()
        if words[:2] == ["require", "("]:
            in_block = True
        elif in_block and words[:1] == [")"]:
            in_block = False
        elif in_block and words:
            found.add(words[0])
        elif words[:1] == ["require"] and len(words) >= 3:
            found.add(words[1])
    return found


def local_replaces(gomod: str) -> list[str]:
    """Required modules that a go.mod replaces with a directory of its own repository.

    Replacements of modules it does not require (etcd's guards such as
    `go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY`) are left out.
    """
    needed = required(gomod)
    return [
        m.group(1)
        for line in gomod.splitlines()
        if (m := _LOCAL_REPLACE.match(line)) and m.group(1) in needed
    ]


def write_wrapper(workdir: Path, require: dict[str, str], replace: dict[str, str], go: str) -> None:
    """Write a wrapper go.mod: `require` and `replace` map module paths to versions; `go`
    is the wrapped module's own `go` line, the version require_go_version checked."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = ["module unilim.local/devenvbuild", "", f"go {go}", ""]
    lines += [f"require {mod} {ver}" for mod, ver in require.items()]
    lines += [""] + [f"replace {mod} => {mod} {ver}" for mod, ver in replace.items()]
    (workdir / "go.mod").write_text("\n".join(lines) + "\n")


def version_ldflags(packages: list[str], version: str) -> str:
    """-X flags so that /version and `--version` report the real release."""
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in packages:
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


def go_build(workdir: Path, package: str, output: Path, ldflags: str, log: Path) -> None:
    """`go build` one main package into `output` (atomically), with progress."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    argv = ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp), package]
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        child = subprocess.Popen(argv, cwd=workdir, env=go_env(), stdout=out, stderr=out)
        _wait_with_progress(child, f"go build {package}")
    if child.returncode != 0:
        raise procs.StartError(
            f"go build {package} failed (exit {child.returncode})\n"
            f"log: {log}\n--- last lines ---\n{procs.tail(log)}"
        )
    os.replace(tmp, output)


def _wait_with_progress(child: subprocess.Popen[bytes], what: str) -> None:
    began = time.monotonic()
    done = threading.Event()

    def report() -> None:
        while not done.wait(30):
            say(f"{what}: still building, {time.monotonic() - began:.0f} s")

    threading.Thread(target=report, daemon=True).start()
    try:
        child.wait()
    finally:
        done.set()
