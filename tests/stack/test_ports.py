"""Ports for the services tests and benchmarks start: never ones the kernel may give an outgoing connection."""

from __future__ import annotations

import socket
from pathlib import Path

from stack.process import free_port


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert not [p for p in ports if low <= p <= high]
    for port in ports[:20]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
