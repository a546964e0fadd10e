"""Command line: python -m devenv up|down|status|build|room ...|node ..."""

from __future__ import annotations

import argparse
import sys

from devenv import demo, kwok, platform, procs


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devenv", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in [
        ("up", "build what is missing, start what is not running"),
        ("down", "stop what the devenv started (by pid file)"),
        ("build", "build/download every component, start nothing"),
    ]:
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("only", nargs="*", help="component names (default: all)")
    status = sub.add_parser("status", help="one line per component")
    status.add_argument("--memory", action="store_true", help="RSS of each part's processes")
    sub.add_parser("clean", help="down, then delete the state (cluster data, certs, logs)")
    sub.add_parser("demo", help="the platform, then a demo hub on http://127.0.0.1:8000")
    for target, names in (("room", list(kwok.ROOMS)), ("node", kwok.NODES)):
        cmd = sub.add_parser(target, help=f"take a {target} down or bring it back")
        cmd.add_argument("action", choices=["down", "up"])
        cmd.add_argument("name", choices=names)
        cmd.add_argument("--mode", choices=kwok.DOWN_MODES, default="notready")
    return p


def run(args: argparse.Namespace) -> None:
    only = args.only or None if hasattr(args, "only") else None
    if args.command == "up":
        platform.up(only)
    elif args.command == "down":
        platform.down(only)
    elif args.command == "build":
        platform.build(only)
    elif args.command == "clean":
        platform.clean()
    elif args.command == "demo":
        sys.exit(demo.run())
    elif args.command == "status":
        print("\n".join(platform.status(args.memory)))
    elif args.command == "room":
        (kwok.room_down(args.name, args.mode) if args.action == "down" else kwok.room_up(args.name))
    elif args.command == "node":
        (kwok.node_down(args.name, args.mode) if args.action == "down" else kwok.node_up(args.name))


def main(argv: list[str] | None = None) -> int:
    try:
        run(parser().parse_args(argv))
    except procs.StartError as error:
        print(f"devenv: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
