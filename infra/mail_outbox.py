"""The relay of `make mail`'s SMTP submission: an SMTP sink on loopback (aiosmtpd) that keeps each message
it is given in a file of the outbox folder, and sends nothing on."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from infra.processes import free_port


class _Keep:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.count += 1
            name = self.folder / f"{int(time.time())}-{self.count}.eml"
        head = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        name.write_bytes(head.encode() + envelope.original_content)
        return f"250 2.0.0 Ok: kept in the outbox as {name.name}"


class Outbox:
    def __init__(self, folder: Path) -> None:
        # aiosmtpd logs every SMTP line at INFO (recipients included): the run's log needs none of it.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.port = free_port()
        self._controller = Controller(_Keep(folder), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

