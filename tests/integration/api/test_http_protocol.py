"""``kazi serve`` sets TCP_NODELAY on every accepted connection.

With ``--workers`` uvicorn binds the socket itself and asyncio then leaves Nagle's algorithm on;
each response (headers, then body) waited for the client's delayed ACK, 44 ms a request.
"""

from __future__ import annotations

import socket
from typing import Any

from engine.api.http_protocol import NoDelayHttpProtocol, set_nodelay


class _Transport:
    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


def _accepted_pair() -> tuple[socket.socket, socket.socket, socket.socket]:
    # As uvicorn binds with --workers: protocol number 0, which asyncio's own NODELAY skips.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    return listener, client, accepted


def test_set_nodelay_turns_nagle_off_on_an_accepted_tcp_socket():
    listener, client, accepted = _accepted_pair()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        set_nodelay(_Transport(accepted))  # type: ignore[arg-type]
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for s in (listener, client, accepted):
            s.close()


def test_set_nodelay_leaves_other_transports_alone():
    set_nodelay(_Transport(None))  # type: ignore[arg-type]
    a, b = socket.socketpair()  # AF_UNIX: no TCP options
    try:
        set_nodelay(_Transport(a))  # type: ignore[arg-type]
    finally:
        a.close()
        b.close()


def test_kazi_serve_runs_uvicorn_with_the_nodelay_protocol(monkeypatch):
    import uvicorn

    from engine.cli.service_commands import serve

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    serve(host="127.0.0.1", port=9, workers=2)
    assert seen["http"] is NoDelayHttpProtocol
    assert seen["workers"] == 2 and seen["factory"] is True
