"""Callback URLs cannot reach the inside: refused at intake, checked again at send time (a name
rebound to loopback is caught), sent to the checked address only, redirects never followed."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from engine.net.outbound import IPAddress, OutboundPolicy, OutboundUrlRefused
from engine.net.outbound_client import HostNotResolved, OutboundClient
from tests.conftest import manual_uow
from tests.media_samples import speech_wav_bytes
from tests.unit.fakes import FakeTaskQueue

WAV = speech_wav_bytes()
# Embedded mode with loopback allowlisted: what lets these tests run their own local servers.
LOCAL_TEST_POLICY = OutboundPolicy.from_allowlist("127.0.0.1/32", allow_http=True)


# --- local servers -------------------------------------------------------------------------


@dataclass
class Recorder:
    """What one local server saw: every connection and every request."""

    connections: int = 0
    requests: list[tuple[str, str, str, bytes]] = field(default_factory=list)  # method path host


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: tuple[int, dict[str, str]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.recorder = Recorder()

    def verify_request(self, request, client_address) -> bool:  # type: ignore[no-untyped-def]
        self.recorder.connections += 1
        return True

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.recorder.requests.append(
            (self.command, self.path, self.headers.get("Host", ""), body)
        )
        status, headers = self.server.answer
        self.send_response(status)
        for name, value in {**headers, "Content-Length": "0"}.items():
            self.send_header(name, value)
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator:  # type: ignore[type-arg]
    """Start local HTTP servers on 127.0.0.1: ``serve(status, headers, tls=None)``."""
    servers: list[_Server] = []

    def start(
        status: int = 200, headers: dict[str, str] | None = None, tls: ssl.SSLContext | None = None
    ) -> _Server:
        server = _Server((status, headers or {}))
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class FakeResolver:
    """A fake of our resolver port: each host answers its list of addresses in turn (the last
    one again once used up), like a DNS server an attacker controls."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {host: list(seq) for host, seq in answers.items()}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host not in self.answers:
            raise HostNotResolved(f"{host} does not resolve")
        seq = self.answers[host]
        return [ipaddress.ip_address(seq.pop(0) if len(seq) > 1 else seq[0])]


# --- intake --------------------------------------------------------------------------------


def _submit(api, headers, callback_url: str):  # type: ignore[no-untyped-def]
    spec = {"kind": "transcription", "callback_url": callback_url}
    return api.post(
        "/v1/jobs",
        data={"spec": json.dumps(spec)},
        files=[("files", ("a.wav", WAV, "audio/wav"))],
        headers=headers,
    )


@pytest.mark.parametrize(
    ("callback_url", "because"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://localhost/hook", "localhost (127.0.0.1) is a loopback address"),
        ("https://[::1]/hook", "::1 is a loopback address"),
        ("https://127.1/hook", "127.0.0.1 is a loopback address"),
        ("https://10.0.0.8/hook", "10.0.0.8 is a private address"),
        # The URL the engine used to POST to, and plain http outside embedded mode.
        ("http://127.0.0.1:25999/internal-admin", "plain http is not allowed"),
        ("http://8.8.8.8/hook", "plain http is not allowed: use https"),
        ("https://no-such-host.invalid/hook", "no-such-host.invalid does not resolve"),
    ],
)
def test_intake_refuses_a_callback_to_the_inside(api, client_auth, callback_url, because):
    _, headers = client_auth
    resp = _submit(api, headers, callback_url)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == "outbound_url_refused"
    assert body["detail"].startswith("callback_url refused: ")
    assert because in body["detail"]
    assert api.get("/v1/jobs", headers=headers).json()["total"] == 0  # nothing was kept


def test_intake_refuses_credentials_in_the_callback_url(api, client_auth):
    _, headers = client_auth
    resp = _submit(api, headers, "https://admin:secret@8.8.8.8/hook")
    assert resp.status_code == 422, resp.text
    assert "must not hold a user name or password" in resp.text


def test_json_intake_checks_the_callback_too(api, client_auth):
    client_id, headers = client_auth
    body = {
        "spec": {"kind": "transcription", "callback_url": "https://[::ffff:169.254.169.254]/"},
        "sources": [{"key": f"clients/{client_id}/uploads/none"}],
    }
    resp = api.post("/v1/jobs", json=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert "169.254.169.254, a link-local address" in resp.json()["detail"]


# --- send time -----------------------------------------------------------------------------


def _delivered_job(ctx, client_id: str, callback_url: str, outbound: OutboundClient) -> str:  # type: ignore[no-untyped-def]
    """A job accepted at intake (with ``outbound`` as its guard), then marked delivered."""
    from engine.db.models import JobRow
    from engine.jobs.intake import IncomingFile, submit_job
    from engine.unit_of_work import SqlAlchemyUnitOfWork
    from schemas.jobs import JobSpec

    job_id = submit_job(
        SqlAlchemyUnitOfWork(ctx.sessions, FakeTaskQueue()),  # the split step goes nowhere
        ctx.store,
        client_id=client_id,
        spec=JobSpec.model_validate({"kind": "transcription", "callback_url": callback_url}),
        files=[IncomingFile("a.wav", io.BytesIO(WAV))],
        max_upload_bytes=10**9,
        max_files=10,
        outbound=outbound,
    )
    with ctx.sessions() as session:
        job = session.get(JobRow, job_id)
        assert job is not None
        job.stage = "delivered"
        session.commit()
    return job_id


def _history(ctx, job_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    with ctx.uow() as uow:
        return [e.detail or "" for e in uow.jobs.stage_history(job_id)]


def test_a_name_rebound_to_loopback_after_intake_is_refused_at_send_time(ctx, client_auth, serve):
    from engine.assembly.callbacks import CALLBACK_REFUSED, notify_client

    inside = serve()  # what the rebinding name points at by send time
    resolver = FakeResolver({"rebind.example": ["93.184.216.34", "127.0.0.1"]})
    outbound = OutboundClient(OutboundPolicy(allow_http=True), resolver)
    url = f"http://rebind.example:{inside.port}/internal-admin"
    job_id = _delivered_job(ctx, client_auth[0], url, outbound)  # public at intake: accepted

    assert notify_client(manual_uow(ctx), ctx.settings.signing_secret, job_id, outbound) is None
    assert resolver.lookups == ["rebind.example", "rebind.example"]
    assert inside.recorder.connections == 0
    refusals = [d for d in _history(ctx, job_id) if d.startswith(CALLBACK_REFUSED)]
    assert refusals == [CALLBACK_REFUSED + "rebind.example (127.0.0.1) is a loopback address"]


def test_the_send_time_guard_refuses_a_name_resolving_to_loopback(serve):
    inside = serve()
    outbound = OutboundClient(OutboundPolicy(allow_http=True))  # the system resolver
    with pytest.raises(OutboundUrlRefused, match=r"localhost \(127.0.0.1\) is a loopback"):
        outbound.post(f"http://localhost:{inside.port}/admin", content=b"{}", headers={}, timeout=5)
    assert inside.recorder.connections == 0


def test_the_request_goes_to_the_checked_address_with_the_named_host(serve):
    """``callback.test`` exists only in the fake resolver: the request can only arrive if the
    client connected to the address that was checked, without a lookup of its own."""
    server = serve()
    outbound = OutboundClient(LOCAL_TEST_POLICY, FakeResolver({"callback.test": ["127.0.0.1"]}))
    resp = outbound.post(
        f"http://callback.test:{server.port}/hook?job=1", content=b'{"a": 1}',
        headers={"Content-Type": "application/json"}, timeout=5,
    )  # fmt: skip
    assert resp.status_code == 200
    assert server.recorder.requests == [
        ("POST", "/hook?job=1", f"callback.test:{server.port}", b'{"a": 1}')
    ]


def test_a_redirect_to_loopback_is_not_followed(serve):
    admin = serve()
    redirector = serve(302, {"Location": f"http://127.0.0.1:{admin.port}/admin"})
    outbound = OutboundClient(LOCAL_TEST_POLICY)
    with pytest.raises(OutboundUrlRefused, match="answered 302 .* redirects are not followed"):
        outbound.post(
            f"http://127.0.0.1:{redirector.port}/hook", content=b"{}", headers={}, timeout=5
        )
    assert len(redirector.recorder.requests) == 1
    assert admin.recorder.connections == 0 and admin.recorder.requests == []


def test_the_notify_task_records_a_redirect_once_and_does_not_retry(ctx, client_auth, serve):
    from engine.assembly.callbacks import CALLBACK_REFUSED
    from workers.assemble import notify_client_task

    admin = serve()
    redirector = serve(307, {"Location": f"http://127.0.0.1:{admin.port}/admin"})
    url = f"http://127.0.0.1:{redirector.port}/hook"
    job_id = _delivered_job(ctx, client_auth[0], url, OutboundClient(LOCAL_TEST_POLICY))
    # The task's own guard comes from the test session's settings (production, no allowlist):
    # it refuses the URL before any connection.
    result = notify_client_task.apply(args=[job_id])
    assert result.successful() and result.result is None
    assert redirector.recorder.connections == 0 and admin.recorder.connections == 0
    refusals = [d for d in _history(ctx, job_id) if d.startswith(CALLBACK_REFUSED)]
    assert refusals == [CALLBACK_REFUSED + "plain http is not allowed: use https"]


def test_a_redirect_answer_is_recorded_and_not_retried(ctx, client_auth, serve):
    from engine.assembly.callbacks import CALLBACK_REFUSED, notify_client

    admin = serve()
    redirector = serve(302, {"Location": f"http://127.0.0.1:{admin.port}/admin"})
    outbound = OutboundClient(LOCAL_TEST_POLICY)
    job_id = _delivered_job(ctx, client_auth[0], f"http://127.0.0.1:{redirector.port}/", outbound)
    assert notify_client(manual_uow(ctx), ctx.settings.signing_secret, job_id, outbound) is None
    assert len(redirector.recorder.requests) == 1 and admin.recorder.connections == 0
    [refusal] = [d for d in _history(ctx, job_id) if d.startswith(CALLBACK_REFUSED)]
    assert "127.0.0.1 answered 302" in refusal and f":{admin.port}/admin" in refusal


def test_a_failing_client_server_is_still_retried(ctx, client_auth, serve):
    from engine.assembly.callbacks import notify_client

    failing = serve(503)
    outbound = OutboundClient(LOCAL_TEST_POLICY)
    job_id = _delivered_job(ctx, client_auth[0], f"http://127.0.0.1:{failing.port}/", outbound)
    with pytest.raises(httpx.HTTPStatusError):
        notify_client(manual_uow(ctx), ctx.settings.signing_secret, job_id, outbound)
    [(method, _, _, body)] = failing.recorder.requests
    assert method == "POST" and json.loads(body)["job_id"] == job_id


# --- https: the pinned address, the named host's certificate -------------------------------


@dataclass
class CertificateFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _certificates(folder: Path, server_name: str) -> CertificateFiles:
    """A throwaway CA and a server certificate it signed for ``server_name``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    valid = (now - dt.timedelta(minutes=5), now + dt.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kazi test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    found = CertificateFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    found.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found


def _tls_server_context(certs: CertificateFiles, server_names: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert_file, certs.key_file)
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name or "")  # type: ignore[assignment,misc,return-value]
    return context


# Production (https only) with loopback allowlisted, trusting the throwaway CA.
HTTPS_TEST_POLICY = OutboundPolicy.from_allowlist("127.0.0.1/32", allow_http=False)


def test_https_to_the_pinned_address_verifies_the_named_hosts_certificate(tmp_path, serve):
    certs = _certificates(tmp_path, "callback.test")
    server_names: list[str] = []
    server = serve(204, tls=_tls_server_context(certs, server_names))
    trust = ssl.create_default_context(cafile=str(certs.ca_file))
    outbound = OutboundClient(
        HTTPS_TEST_POLICY, FakeResolver({"callback.test": ["127.0.0.1"]}), verify=trust
    )
    resp = outbound.post(
        f"https://callback.test:{server.port}/hook", content=b"{}", headers={}, timeout=5
    )
    assert resp.status_code == 204
    assert server_names == ["callback.test"]
    assert server.recorder.requests == [("POST", "/hook", f"callback.test:{server.port}", b"{}")]


def test_https_refuses_a_certificate_for_another_name(tmp_path, serve):
    certs = _certificates(tmp_path, "someone-else.test")
    server = serve(204, tls=_tls_server_context(certs, []))
    trust = ssl.create_default_context(cafile=str(certs.ca_file))
    outbound = OutboundClient(
        HTTPS_TEST_POLICY, FakeResolver({"callback.test": ["127.0.0.1"]}), verify=trust
    )
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        outbound.post(
            f"https://callback.test:{server.port}/hook", content=b"{}", headers={}, timeout=5
        )
    assert server.recorder.requests == []
