"""The local platform's fake nodes: their pod addresses (devenv/kwok.py)."""

from __future__ import annotations

import ipaddress
import itertools

from devenv import kwok


def test_every_node_has_its_own_loopback_range_with_room_for_a_burst() -> None:
    ranges = {node: ipaddress.ip_network(kwok.pod_cidr(node)) for node in kwok.NODES}
    for node, addresses in ranges.items():
        assert addresses.subnet_of(ipaddress.ip_network("127.10.0.0/16")), node
        # KWOK 0.8 hands out more addresses than pods in a burst (61 pods of 1,000 got
        # another's IP with a /24 for 250 pods): far more addresses than pods.
        assert addresses.num_addresses >= 16 * int(kwok.max_pods())
        assert not addresses.overlaps(ipaddress.ip_network(kwok.FALLBACK_CIDR))
    for first, second in itertools.combinations(ranges.values(), 2):
        assert not first.overlaps(second)
