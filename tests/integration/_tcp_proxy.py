"""A loopback TCP forwarder for tests: a real network path to a real server that can start late or
drop connections, so retry behaviour is exercised without mocks."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream; the first `drop_first` connections are closed at once."""

    def __init__(self, port: int, upstream: tuple[str, int], drop_first: int = 0) -> None:
        self.port = port
        self.upstream = upstream
        self.drop_first = drop_first
        self.accepted = 0
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self._open: list[socket.socket] = []

    def start(self) -> None:
        """Start listening and forwarding in background threads."""
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._closing.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop_first:
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            self._open.extend((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                t = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                t.start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop accepting; open forwarded connections end with their peers."""
        self._closing.set()
        if self._server is not None:
            self._server.close()

    def cut(self) -> None:
        """An outage: stop accepting and reset every forwarded connection now."""
        if self._server is not None:
            # A blocked accept() holds the listening socket open past close(); shutdown wakes it.
            with suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
        self.close()
        for sock in self._open:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()
        self._open.clear()
