"""Where processes listen, read from /proc (Linux), for the loopback-only checks.

A socket is found in /proc/net/{tcp,tcp6,udp,udp6} by its inode, and a process's sockets
are the `socket:[inode]` links in /proc/<pid>/fd.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_TCP_LISTEN = "0A"


class Listener(NamedTuple):
    table: str  # tcp, tcp6, udp or udp6
    ip: IP  # an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is
    port: int

    def __str__(self) -> str:
        host = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        return f"{self.table} {host}:{self.port}"


def _decode(hex_address: str) -> tuple[IP, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    # /proc/net prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(words)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped, int(port, 16)
    return ip, int(port, 16)


def all_listeners() -> dict[str, Listener]:
    """Socket inode -> listener, for every listening TCP socket and every UDP socket
    (a UDP socket receives on its local address whatever its state)."""
    found = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if table.startswith("udp") or fields[3] == _TCP_LISTEN:
                found[fields[9]] = Listener(table, *_decode(fields[1]))
    return found


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets a process holds (empty if it is gone)."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().name
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def listeners_of(pids: Iterable[int]) -> list[Listener]:
    """Every socket some processes listen on."""
    listeners = all_listeners()
    inodes = set().union(*(socket_inodes(pid) for pid in pids))
    return sorted({listeners[inode] for inode in inodes if inode in listeners}, key=str)


def outside_loopback(listeners: Iterable[Listener]) -> list[Listener]:
    """Those not on 127.0.0.0/8 or ::1 (0.0.0.0 and :: mean every address: outside)."""
    return [listener for listener in listeners if not listener.ip.is_loopback]
