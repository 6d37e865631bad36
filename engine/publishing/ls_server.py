"""Which Label Studio instance an id belongs to.

Label Studio numbers users, projects, tasks and annotations from 1 on every fresh server, so the
engine keys each stored Label Studio id by its server: the server's normalised base URL. (The
free edition exposes no instance id that survives: the organisation id restarts at 1 and its
invite token can be reset.) '' stands for rows recorded before servers were told apart, when
no server was configured.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_SERVER_CHARS = 200
_DEFAULT_PORTS = {"http": 80, "https": 443}


def label_studio_server(base_url: str) -> str:
    """``scheme://host[:port][/path]``, lower-case, without a default port, a trailing slash,
    a query or credentials: the same server however its URL is written."""
    text = base_url.strip()
    if not text:
        return ""
    parts = urlsplit(text if "://" in text else f"http://{text}")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"[:MAX_SERVER_CHARS]
