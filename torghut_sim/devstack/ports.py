"""Keeping the stack's fixed loopback ports out of the kernel's ephemeral range for outgoing connections.

The default ports (5xxxx) lie inside Linux's ephemeral range (32768–60999): on a busy machine an outgoing
connection can be handed a server's port as its local port a moment before that server binds it, and the
server then dies with "Address already in use". Adding the ports to `ip_local_reserved_ports` stops that;
it is best effort, since only root (in the machine's network namespace) may write the setting.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path

from torghut_sim.devstack.config import StackConfig

log = logging.getLogger(__name__)

RESERVED_PORTS = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")


def parse_reserved(text: str) -> set[int]:
    """The ports of a reserved-ports setting such as `55432,59092-59093`."""
    ports: set[int] = set()
    for part in text.replace("\n", "").split(","):
        if not part.strip():
            continue
        low, _, high = part.strip().partition("-")
        ports.update(range(int(low), int(high or low) + 1))
    return ports


def render_reserved(ports: Iterable[int]) -> str:
    """The setting's text for `ports`, runs of neighbours joined as `low-high`."""
    ordered = sorted(set(ports))
    runs: list[str] = []
    start = prev = None
    for port in ordered:
        if prev is not None and port == prev + 1:
            prev = port
            continue
        if start is not None:
            runs.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = port
    if start is not None:
        runs.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(runs)


NODE_PORTS: tuple[str, ...] = ("kubelet", "kubelet_healthz", "kube_scheduler", "kube_controller_manager")


def stack_ports(config: StackConfig) -> set[int]:
    """Every port the stack's servers listen on (the optional node's included)."""
    ports = {int(getattr(config.ports, f.name)) for f in fields(config.ports)}
    return ports | {int(getattr(config.ports, name)) for name in NODE_PORTS}


def reserve_ports(ports: Iterable[int], setting: Path = RESERVED_PORTS) -> bool:
    """Add `ports` to the kernel's reserved ports; True when they are reserved (already or now)."""
    wanted = set(ports)
    try:
        current = parse_reserved(setting.read_text())
        if wanted <= current:
            return True
        setting.write_text(render_reserved(current | wanted) + "\n")
    except OSError as exc:
        log.debug("cannot reserve the stack's ports (%s); a rare bind race stays possible", exc)
        return False
    return True
