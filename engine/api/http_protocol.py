"""The HTTP protocol ``kazi serve`` runs: uvicorn's httptools parser with TCP_NODELAY set.

With ``--workers`` uvicorn binds the listening socket itself (protocol number 0), and asyncio
then skips TCP_NODELAY on accepted connections; every response, written as headers then body,
waited for the client's delayed ACK: 44 ms per request on an idle server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # not a TCP socket after all: nothing to tune
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
