"""A real local HTTP receiver for outbound webhooks (alerts): records every POST.

Plain asyncio streams speaking enough HTTP/1.1 for one request per connection, so a test
sees exactly the bytes and headers the control plane sent over a real socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Status codes to answer with, in order; 200 once they run out.
    statuses: list[int] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        async def _until() -> None:
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(_until(), within)
        return list(self.requests)


async def _handle(
    receiver: Receiver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        _method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        receiver.requests.append(Received(path, headers, body))
        receiver.arrived.set()
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
    finally:
        writer.close()


@asynccontextmanager
async def running_receiver(path: str = "/alerts") -> AsyncIterator[Receiver]:
    """A receiver on 127.0.0.1 and a free port; its ``url`` ends with ``path``."""
    holder: list[Receiver] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _handle(holder[0], reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    holder.append(Receiver(url=f"http://127.0.0.1:{port}{path}"))
    try:
        yield holder[0]
    finally:
        server.close()
        await server.wait_closed()
