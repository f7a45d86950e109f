"""How the domain reaches a Kafka cluster: bootstrap servers and optional SASL, as client configuration."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torghut_sim.errors import TorghutSimError

_SECURITY_PROTOCOLS = frozenset({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"})

# librdkafka prints every failed connection attempt to stderr itself (about 290 lines while a dump waits
# for a broker that is down). Our clients report the failure as one reason line, so the library's own log
# goes to this logger instead; it reaches no handler unless one is attached here (to debug a client).
LIBRDKAFKA_LOGGER = logging.getLogger("torghut_sim.librdkafka")
LIBRDKAFKA_LOGGER.addHandler(logging.NullHandler())
LIBRDKAFKA_LOGGER.propagate = False


def quiet(config: Mapping[str, Any]) -> dict[str, Any]:
    """A client configuration whose librdkafka log goes to `LIBRDKAFKA_LOGGER`, not to stderr."""
    return {"logger": LIBRDKAFKA_LOGGER, **config}


class KafkaConnectionError(TorghutSimError):
    """Connection settings that cannot work (unknown protocol, SASL without credentials)."""

    reason = "kafka_connection_invalid"


@dataclass(frozen=True)
class KafkaConnection:
    """One Kafka cluster as the domain sees it; the password is never part of repr or logs."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.bootstrap_servers.strip():
            raise KafkaConnectionError("bootstrap_servers is empty")
        if self.security_protocol not in _SECURITY_PROTOCOLS:
            raise KafkaConnectionError(f"unknown security_protocol {self.security_protocol!r}")
        if self.security_protocol.startswith("SASL_") and (
            not self.sasl_mechanism or self.sasl_username is None or self.sasl_password is None
        ):
            raise KafkaConnectionError(
                f"{self.security_protocol} needs sasl_mechanism, sasl_username and sasl_password"
            )

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """confluent-kafka configuration for this cluster, with client-specific settings merged in."""
        config: dict[str, Any] = quiet(
            {"bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol}
        )
        if self.security_protocol.startswith("SASL_"):
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.sasl_password
        config.update(overrides)
        return config

    def describe(self) -> str:
        """A loggable one-line description (no secret)."""
        user = f" as {self.sasl_username}" if self.sasl_username else ""
        return f"{self.bootstrap_servers} ({self.security_protocol}{user})"
