"""Apache Kafka from Maven Central: a single-node KRaft broker (broker + controller) on loopback.

Owns the broker's classpath in the build cache (copied by Maven from `devstack/kafka/pom.xml`), the
JVM's shared class archive beside it, the broker's `server.properties`, the one-time storage format and
the broker process.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from torghut_sim.devstack.apt import ensure_packages
from torghut_sim.devstack.errors import DevstackError
from torghut_sim.devstack.process import port_open, run_checked, spawn, stop_pid, wait_until
from torghut_sim.devstack.service import Service

NODE_ID = 1
MIN_JAVA = 17
START_TIMEOUT_S = 120.0
# A combined broker+controller flushes and closes every partition on TERM; give it time before KILL so
# the next start needs no log recovery.
STOP_TIMEOUT_S = 60.0
JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    # The machine has two cores shared with the other servers of the stack.
    "-XX:ParallelGCThreads=2",
    "-XX:ConcGCThreads=1",
    "-XX:CICompilerCount=2",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def new_cluster_id() -> str:
    """A random KRaft cluster id: a 16-byte UUID in URL-safe base64 without padding."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        # The storage tool's argument parser would read a leading "-" as an option (Kafka's own
        # Uuid.randomUuid() skips such ids for the same reason).
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaService(Service):
    """One Apache Kafka broker in KRaft combined mode, its data under `<state>/kafka/data`."""

    name = "kafka"

    @property
    def assets(self) -> Path:
        """The checked-in build inputs: pom.xml and the Log4j 2 configuration."""
        return self.config.assets_dir / "kafka"

    @property
    def pom(self) -> Path:
        """The POM that pins the broker version and its logging binding."""
        return self.assets / "pom.xml"

    @property
    def version(self) -> str:
        """The pinned Apache Kafka version, read from the POM so it is stated once."""
        node = ET.parse(self.pom).getroot().find("m:properties/m:kafka.version", _POM_NS)
        if node is None or not (node.text or "").strip():
            raise DevstackError("kafka_version_missing", f"{self.pom} has no <kafka.version> property")
        return (node.text or "").strip()

    @property
    def libs_dir(self) -> Path:
        """The broker's jars in the build cache, one directory per Kafka version."""
        return self.build_dir / f"libs-{self.version}"

    @property
    def data_dir(self) -> Path:
        """The log directory, which also holds the KRaft metadata log."""
        return self.state_dir / "data"

    @property
    def properties_file(self) -> Path:
        """The broker configuration written on every start."""
        return self.state_dir / "server.properties"

    @property
    def bootstrap_servers(self) -> str:
        """The bootstrap string clients use."""
        return f"{self.config.host}:{self.config.ports.kafka}"

    def _pom_digest(self) -> str:
        return hashlib.sha256(self.pom.read_bytes()).hexdigest()

    def _stamp(self) -> Path:
        return self.libs_dir / ".pom.sha256"

    def _installed(self) -> bool:
        stamp = self._stamp()
        return (
            stamp.exists()
            and stamp.read_text().strip() == self._pom_digest()
            and any(self.libs_dir.glob("kafka_2.13-*.jar"))
        )

    @contextlib.contextmanager
    def _install_lock(self) -> Iterator[None]:
        # A test session and a `devstack up` may install at the same time; only one copies jars.
        with open(self.build_dir / ".install.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def java(self) -> str:
        """The java launcher: $JAVA_HOME's when set, else the one on PATH; must be Java 17 or later."""
        java_home = os.environ.get("JAVA_HOME")
        java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
        if not java or not Path(java).exists():
            raise DevstackError("java_missing", "no java launcher found (set JAVA_HOME or install Java 17)")
        return java

    def _check_java(self, java: str) -> None:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False, timeout=60
        ).stderr
        match = re.search(r'version "(\d+)', out)
        if match is None or int(match.group(1)) < MIN_JAVA:
            raise DevstackError("java_too_old", f"Kafka needs Java {MIN_JAVA}+; {java} says: {out.strip()}")

    def install(self) -> None:
        """Copy the broker jars from Maven when they are missing or the POM changed."""
        ensure_packages({"openjdk-17-jre-headless": "/usr/bin/java", "maven": "/usr/bin/mvn"})
        if self._installed():
            return
        with self._install_lock():
            if self._installed():
                return
            self._check_java(self.java())
            # Copy into a scratch directory and swap it in, so an interrupted copy never looks installed.
            scratch = self.build_dir / f".libs-{self.version}.partial"
            shutil.rmtree(scratch, ignore_errors=True)
            run_checked(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-f",
                    str(self.pom),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={scratch}",
                    "-DincludeScope=runtime",
                ],
                "mvn dependency:copy-dependencies (kafka)",
                cwd=str(self.assets),
            )
            (scratch / ".pom.sha256").write_text(self._pom_digest() + "\n")
            shutil.rmtree(self.libs_dir, ignore_errors=True)
            scratch.rename(self.libs_dir)

    def server_properties(self) -> dict[str, str]:
        """The broker configuration: one node that is both broker and controller, on loopback."""
        host, port, cport = self.config.host, self.config.ports.kafka, self.config.ports.kafka_controller
        return {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@{host}:{cport}",
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # Topics are created explicitly, like in production (source topics have 3 partitions).
            "num.partitions": "3",
            "auto.create.topics.enable": "false",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Internal topics default to 50 partitions each; a few are plenty for one local broker.
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.num.partitions": "5",
            "group.initial.rebalance.delay.ms": "0",
            # Records carry historical CreateTime timestamps (months old): time retention would delete
            # them at once, so nothing expires by time or size.
            "log.retention.ms": "-1",
            "log.retention.bytes": "-1",
            "log.message.timestamp.type": "CreateTime",
            # Accept timestamps arbitrarily far in the past (the default since 3.6, stated so that it
            # cannot drift); future timestamps keep the 4.x default of at most one hour ahead.
            "log.message.timestamp.before.max.ms": str(2**63 - 1),
            "log.message.timestamp.after.max.ms": "3600000",
            # A replay's timestamps jump by days between records; rolling a segment per 7-day jump
            # would only fragment the log, so segments roll by size.
            "log.roll.ms": str(10 * 365 * 24 * 3600 * 1000),
            # Small thread pools and cleaner buffer: two cores are shared with the whole stack.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "background.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "num.replica.fetchers": "1",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        }

    def _write_properties(self) -> None:
        lines = ["# Written by torghut_sim.devstack.kafka on every start; edits are overwritten."]
        lines += [f"{key}={value}" for key, value in self.server_properties().items()]
        self.properties_file.write_text("\n".join(lines) + "\n")

    def _classpath(self) -> str:
        return f"{self.libs_dir}/*"

    def _format_storage(self) -> None:
        # meta.properties marks a formatted log directory; formatting twice would fail.
        if (self.data_dir / "meta.properties").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        run_checked(
            [
                self.java(),
                "-Xmx256m",
                *self._log_options(),
                "-cp",
                self._classpath(),
                "kafka.tools.StorageTool",
                "format",
                "--config",
                str(self.properties_file),
                "--cluster-id",
                cluster_id,
            ],
            "kafka storage format",
        )

    def _class_archive(self, java: str) -> Path:
        """The shared class archive (AppCDS) of this broker classpath and this exact JVM build."""
        binary = Path(java).resolve()
        jvm = hashlib.sha256(f"{binary}:{binary.stat().st_mtime_ns}".encode()).hexdigest()[:12]
        return self.build_dir / f"classes-{self.version}-{self._pom_digest()[:12]}-{jvm}.jsa"

    @property
    def _pending_archive(self) -> Path:
        return self.state_dir / "classes.jsa"

    def _archive_options(self, java: str, use_archive: bool) -> list[str]:
        # Loading the broker's classes dominates its start on two busy cores. The first run records
        # them when the JVM exits; stop() vets that archive and moves it into the build cache, and
        # later starts map it.
        archive = self._class_archive(java)
        # Recording warns about every class it skips (old bytecode, unlinked classes); only errors matter.
        quiet = "-Xlog:cds*=error"
        if use_archive and archive.exists():
            return [quiet, f"-XX:SharedArchiveFile={archive}"]
        return [quiet, f"-XX:ArchiveClassesAtExit={self._pending_archive}"]

    def _archive_loads(self, java: str, archive: Path) -> bool:
        # A damaged archive (say, cut short by a KILL while it was written) crashes the JVM that maps
        # it, so an archive is only kept once a JVM has mapped it with sharing forced on.
        proc = subprocess.run(
            [
                java,
                "-Xshare:on",
                f"-XX:SharedArchiveFile={archive}",
                f"-XX:ErrorFile={self.state_dir / 'archive-check-hs_err.log'}",
                "-cp",
                self._classpath(),
                "-version",
            ],
            capture_output=True,
            check=False,
            timeout=120,
        )
        return proc.returncode == 0

    def _keep_archive(self) -> None:
        pending = self._pending_archive
        if not pending.exists():
            return
        java = self.java()
        archive = self._class_archive(java)
        if not archive.exists():
            partial = archive.with_suffix(f".{os.getpid()}.partial")
            shutil.copyfile(pending, partial)
            if self._archive_loads(java, partial):
                partial.replace(archive)
            else:
                partial.unlink()
        pending.unlink()

    def _log_options(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={self.assets / 'log4j2.properties'}"]

    def start(self) -> None:
        """Install, format once, start the broker unless it runs, and wait until it lists topics."""
        self.install()
        if self.healthy():
            return
        self._write_properties()
        self._format_storage()
        try:
            self._launch(use_archive=True)
        except DevstackError as exc:
            # A class archive that maps but misbehaves must not keep the broker down: start once more
            # without it (which records a fresh one).
            archive = self._class_archive(self.java())
            if exc.reason != "service_exited" or not archive.exists():
                raise
            archive.unlink(missing_ok=True)
            self._launch(use_archive=False)

    def _launch(self, use_archive: bool) -> None:
        java = self.java()
        spawn(
            self.name,
            [
                java,
                *JVM_OPTIONS,
                *self._archive_options(java, use_archive),
                *self._log_options(),
                "-cp",
                self._classpath(),
                "kafka.Kafka",
                str(self.properties_file),
            ],
            self.pid_file,
            self.log_file,
            cwd=self.state_dir,
        )
        wait_until(self.name, self.healthy, START_TIMEOUT_S, self.pid_file, self.log_file)

    def healthy(self) -> bool:
        """True when the broker answers a metadata request and lists itself."""
        if not port_open(self.config.host, self.config.ports.kafka):
            return False
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=5)
        except KafkaException:
            return False
        return NODE_ID in metadata.brokers

    def endpoints(self) -> dict[str, str]:
        """The bootstrap string."""
        return {"bootstrap_servers": self.bootstrap_servers}

    def stop(self) -> bool:
        """Stop the broker by PID, giving it time for a clean shutdown, and keep its class archive."""
        stopped = stop_pid(self.pid_file, timeout=STOP_TIMEOUT_S)
        self._keep_archive()
        return stopped
