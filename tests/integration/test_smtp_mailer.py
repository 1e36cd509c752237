"""The SMTP mailer against a real SMTP server (aiosmtpd): how its answers, lost
connections, STARTTLS, implicit TLS and AUTH turn into sent messages and failures."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import itertools
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from promoter.delivery.mailers import PermanentFailure, SmtpMailer, TemporaryFailure
from promoter.delivery.render import OutgoingEmail

HOST = "127.0.0.1"


@dataclass
class Server:
    """Accepts what it is sent, noting each message's connection (the client's port),
    whether it came over TLS and who logged in; a recipient's local part may ask for a
    refusal of the recipient (``r451``, ``r550``) or of the message after DATA (``d451``,
    ``d554``), or for the connection to be cut (``drop``); the sender ``m550@...`` is
    refused."""

    received: list[tuple[str, int, bool, str | None]] = field(default_factory=list)
    #: Each message's MAIL FROM address and options.
    senders: list[tuple[str, list[str]]] = field(default_factory=list)
    #: Whether EHLO offers PIPELINING (RFC 2920; aiosmtpd reads commands as a stream).
    pipelining: bool = False
    #: How many times a client said EHLO (a connection each).
    greetings: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.greetings += 1
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("m550@"):
            return "550 sender refused for the test"
        envelope.mail_from, envelope.mail_options = address, options
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        local = address.partition("@")[0]
        if local.startswith("r4") or local.startswith("r5"):
            return f"{local[1:]} refused for the test"
        if local == "drop":
            server.transport.close()
            return "250 OK"  # never reaches the client
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        local = envelope.rcpt_tos[0].partition("@")[0]
        if local.startswith("d4") or local.startswith("d5"):  # refuse the message itself
            return f"{local[1:]} message refused for the test"
        self.senders.append((envelope.mail_from, envelope.mail_options))
        login = session.auth_data.login.decode() if session.auth_data else None
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.received.append((envelope.rcpt_tos[0], session.peer[1], tls, login))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[Server, int]]:
    handler = Server()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, enable_SMTPUTF8=True)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def message(to: str) -> OutgoingEmail:
    data = f"From: s@example.com\r\nTo: {to}\r\nSubject: Hi\r\n\r\n.dot first\r\n"
    return OutgoingEmail("s@example.com", to, f"<{to}>", data.encode())


async def outcome(mailer: SmtpMailer, to: str) -> str:
    try:
        await mailer.send(message(to))
    except TemporaryFailure as exc:
        return f"temporary {exc}"
    except PermanentFailure as exc:
        return f"permanent {exc}"
    return "sent"


def outcomes(mailer: SmtpMailer, *addresses: str) -> list[str]:
    """Each address's outcome, one message after the other, then the mailer closed."""

    async def scenario() -> list[str]:
        results = [await outcome(mailer, to) for to in addresses]
        await mailer.close()
        return results

    return asyncio.run(scenario())


def test_answers_and_lost_connections(server: tuple[Server, int]) -> None:
    """A refused recipient is permanent (5xx) or temporary (4xx), and the connection goes
    on; a cut connection is temporary, and the next message goes over a new one."""
    handler, port = server

    mailer = SmtpMailer(host=HOST, port=port, timeout=5, connections=1)
    addresses = ("a@x.example", "r550@x.example", "b@x.example", "r451@x.example")
    results = outcomes(mailer, *addresses, "c@x.example", "drop@x.example", "d@x.example")
    assert results[0] == results[2] == results[4] == results[6] == "sent"
    assert results[1].startswith("permanent 550 ")
    assert results[3].startswith("temporary 451 ")
    assert results[5].startswith("temporary SMTPServerDisconnected")
    to, ports = [r[0] for r in handler.received], [r[1] for r in handler.received]
    assert to == ["a@x.example", "b@x.example", "c@x.example", "d@x.example"]
    assert ports[0] == ports[1] == ports[2] != ports[3]


def test_a_refused_message_and_addresses_that_cannot_be_sent(server: tuple[Server, int]) -> None:
    """The message refused after DATA: 5xx is permanent and the connection goes on, 4xx
    temporary over a new one. A recipient with a line break (or a lone surrogate) is
    permanent, a sender with one temporary (the installation's setting): none reaches
    the server."""
    handler, port = server

    async def scenario() -> list[str]:
        mailer = SmtpMailer(host=HOST, port=port, timeout=5, connections=1)
        results = [await outcome(mailer, to) for to in ("a@x.example", "d554@x.example")]
        results += [await outcome(mailer, to) for to in ("b@x.example", "d451@x.example")]
        results += [await outcome(mailer, "c@x.example\r\nRCPT TO:<e@x.example>")]
        results += [await outcome(mailer, "f@x.example")]
        try:
            await mailer.send(OutgoingEmail("s@x.example\r\nRSET", "g@x.example", "<g>", b"Hi"))
        except TemporaryFailure as exc:
            results.append(f"temporary {exc}")
        try:  # a lone surrogate, which no encoding writes
            await mailer.send(OutgoingEmail("s@x.example", "h\udcff@x.example", "<h>", b"Hi"))
        except PermanentFailure as exc:
            results.append(f"permanent {exc}")
        await mailer.close()
        return results

    results = asyncio.run(scenario())
    assert results[0] == results[2] == results[5] == "sent"
    assert results[1].startswith("permanent 554 message refused")
    assert results[3].startswith("temporary 451 message refused")
    assert results[4].startswith("permanent an address cannot hold a line break")
    assert results[6].startswith("temporary the sender's address")
    assert results[7].startswith("permanent an address UTF-8 cannot write")
    assert [r[0] for r in handler.received] == ["a@x.example", "b@x.example", "f@x.example"]
    ports = [r[1] for r in handler.received]
    assert ports[0] == ports[1] != ports[2]


def test_the_envelope_carries_the_bare_address_and_the_size(server: tuple[Server, int]) -> None:
    """MAIL FROM carries the bare address (a display name dropped, as smtplib drops it)
    and the message's size, as the server offers SIZE."""
    handler, port = server

    data = b"Subject: Hi\r\n\r\nHello\r\n"

    async def scenario() -> None:
        mailer = SmtpMailer(host=HOST, port=port, timeout=5)
        await mailer.send(OutgoingEmail("Promoter <s@x.example>", "a@x.example", "<1>", data))
        await mailer.send(OutgoingEmail("s@x.example", "Ann <b@x.example>", "<2>", data))
        await mailer.close()

    asyncio.run(scenario())
    size = f"SIZE={len(data)}"
    assert handler.senders == [("s@x.example", [size]), ("s@x.example", [size])]
    assert [r[0] for r in handler.received] == ["a@x.example", "b@x.example"]


class LoopbackServer:
    """Listens on a free port of 127.0.0.1 and hands each connection, with its number
    from 1, to :meth:`serve` in a thread of its own, until :meth:`close`."""

    def __init__(self) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            for number in itertools.count(1):
                connection, _ = self.listener.accept()
                threading.Thread(target=self.serve, args=(connection, number), daemon=True).start()

    def serve(self, connection: socket.socket, number: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.listener.close()


class Recorder(LoopbackServer):
    """Between the mailer and a server: forwards both ways, keeping each chunk the
    client wrote (on loopback, one write arrives as one chunk)."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.chunks: list[bytes] = []
        super().__init__()

    def serve(self, connection: socket.socket, number: int) -> None:
        with connection, socket.create_connection((HOST, self.server_port)) as upstream:
            back = threading.Thread(target=self._pump, args=(upstream, connection), daemon=True)
            back.start()
            self._pump(connection, upstream)
            back.join()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if target.getpeername()[1] == self.server_port:
                    self.chunks.append(chunk)
                target.sendall(chunk)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_the_envelope_in_one_write_when_the_server_offers_pipelining(pipelining: bool) -> None:
    """With PIPELINING offered, MAIL, RCPT and DATA go in one write (one round trip
    instead of three); refusals mean the same either way, and the connection goes on
    after each (RSET)."""
    handler = Server(pipelining=pipelining)
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    recorder = Recorder(port)

    mailer = SmtpMailer(host=HOST, port=recorder.port, timeout=5, connections=1)
    addresses = ("a@x.example", "r550@x.example", "b@x.example", "r451@x.example")
    refused_sender = OutgoingEmail("m550@x.example", "e@x.example", "<e>", b"Hi\r\n")
    try:
        with pytest.raises(PermanentFailure, match=r"^550 sender refused"):
            asyncio.run(mailer.send(refused_sender))
        results = outcomes(mailer, *addresses, "d554@x.example", "c@x.example")
    finally:
        controller.stop()
        recorder.close()
    assert results[0] == results[2] == results[5] == "sent"
    assert results[1].startswith("permanent 550 refused")
    assert results[3].startswith("temporary 451 refused")
    assert results[4].startswith("permanent 554 message refused")
    assert [r[0] for r in handler.received] == ["a@x.example", "b@x.example", "c@x.example"]
    assert len({r[1] for r in handler.received}) == 1 and handler.greetings == 1
    size = len(message("a@x.example").data)
    mail, rcpt = f"MAIL FROM:<s@example.com> SIZE={size}\r\n", "RCPT TO:<a@x.example>\r\n"
    commands = [mail.encode(), rcpt.encode(), b"DATA\r\n"]
    expected = [b"".join(commands)] if pipelining else commands
    first = recorder.chunks.index(expected[0])
    assert recorder.chunks[first : first + len(expected)] == expected
    assert recorder.chunks[first + len(expected)].startswith(b"From: s@example.com\r\n")


class Scripted(LoopbackServer):
    """A small SMTP peer offering PIPELINING, for the answers aiosmtpd never gives to a
    DATA after a refused recipient (it answers 503): ``r550d354@`` is refused, then its
    DATA taken (354), so the client must end the empty message at once; ``r550d421@`` is
    refused, then its DATA answered 421 and the connection closed. Notes each line it
    reads, with the number of its connection."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        super().__init__()

    def serve(self, connection: socket.socket, number: int) -> None:
        with connection, connection.makefile("rb") as lines, contextlib.suppress(OSError):
            connection.sendall(b"220 scripted\r\n")
            refused = ""
            for raw in lines:
                line = raw.decode().rstrip("\r\n")
                self.lines.append((number, line))
                verb = line[:4].upper()
                if verb == "EHLO":
                    answer = "250-scripted\r\n250 PIPELINING"
                elif verb == "RCPT":
                    local = line.partition("<")[2].partition("@")[0]
                    refused = local if local.startswith("r550") else ""
                    answer = "550 no such mailbox" if refused else "250 OK"
                elif verb == "DATA" and refused == "r550d421":
                    connection.sendall(b"421 closing\r\n")
                    return
                elif verb == "DATA":
                    connection.sendall(b"354 go ahead\r\n")
                    body = list(iter(lines.readline, b".\r\n"))
                    self.lines.append((number, f"<{len(body)} lines>"))
                    answer = "554 no valid recipients" if refused else "250 queued"
                elif verb == "QUIT":
                    connection.sendall(b"221 bye\r\n")
                    return
                else:  # MAIL, RSET
                    refused = "" if verb == "RSET" else refused
                    answer = "250 OK"
                connection.sendall(answer.encode() + b"\r\n")


def test_a_data_taken_after_a_refused_recipient_is_ended_at_once() -> None:
    """Pipelined, a refused recipient is reported as such whatever the server answers
    to the DATA sent with it: a 354 is ended with an empty message (then RSET, and the
    connection goes on), a 421 ends the connection (the recipient still refused, for
    good, not retried)."""
    server = Scripted()
    mailer = SmtpMailer(host=HOST, port=server.port, timeout=5, connections=1)
    try:
        results = outcomes(
            mailer, "a@x.example", "r550d354@x.example", "b@x.example", "r550d421@x.example"
        )
        results += outcomes(mailer, "c@x.example")
    finally:
        server.close()
    assert results[0] == results[2] == results[4] == "sent"
    assert results[1].startswith("permanent 550 no such mailbox")
    assert results[3].startswith("permanent 550 no such mailbox")
    first = [line for number, line in server.lines if number == 1]
    ended = first.index("RCPT TO:<r550d354@x.example>") + 1
    assert [line.upper() for line in first[ended : ended + 3]] == ["DATA", "<0 LINES>", "RSET"]
    assert "RCPT TO:<b@x.example>" in first and "RCPT TO:<r550d421@x.example>" in first
    assert "RCPT TO:<c@x.example>" in [line for number, line in server.lines if number == 2]


def test_connections_open_as_messages_wait_up_to_the_limit(server: tuple[Server, int]) -> None:
    handler, port = server

    async def scenario() -> None:
        mailer = SmtpMailer(host=HOST, port=port, timeout=5, connections=3)
        for n in range(3):  # one at a time: one connection
            await mailer.send(message(f"a{n}@x.example"))
        await asyncio.gather(*(mailer.send(message(f"b{n}@x.example")) for n in range(12)))
        await mailer.close()

    asyncio.run(scenario())
    ports = [port for _, port, _, _ in handler.received]
    assert len(ports) == 15 and len(set(ports[:3])) == 1
    assert len(set(ports)) <= 3


def test_a_connection_the_server_closed_while_idle_is_replaced_unnoticed() -> None:
    handler = Server()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, timeout=0.2)
    controller.start()

    async def scenario() -> list[str]:
        mailer = SmtpMailer(host=HOST, port=port, timeout=5, connections=1)
        first = await outcome(mailer, "a@x.example")
        await asyncio.sleep(0.6)  # the server says 421 and closes the connection
        second = await outcome(mailer, "b@x.example")
        await mailer.close()
        return [first, second]

    try:
        assert asyncio.run(scenario()) == ["sent", "sent"]
    finally:
        controller.stop()
    assert [r[0] for r in handler.received] == ["a@x.example", "b@x.example"]
    assert handler.received[0][1] != handler.received[1][1]


@pytest.fixture
def keeping() -> Iterator[tuple[list[bytes], int]]:
    """A server keeping the bytes of each message it receives (doubled dots undone)."""
    received: list[bytes] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.original_content)
            return "250 OK"

    port = free_port()
    controller = Controller(Keep(), hostname=HOST, port=port, enable_SMTPUTF8=True)
    controller.start()
    try:
        yield received, port
    finally:
        controller.stop()


def test_a_dot_starting_a_line_and_non_ascii_addresses_arrive_intact(
    keeping: tuple[list[bytes], int],
) -> None:
    received, port = keeping

    async def scenario() -> None:
        mailer = SmtpMailer(host=HOST, port=port, timeout=5)
        await mailer.send(message("zoë@exämple.com"))
        await mailer.close()

    asyncio.run(scenario())
    assert received == [message("zoë@exämple.com").data]


#: Messages whose line ends and dots must be mended on the way (bare LF, bare CR, a line
#: of one dot, dots leading lines and the message, no final line end, non-ASCII), and
#: what the server must receive: CRLF line ends (RFC 5321, 2.3.8), every dot kept.
AWKWARD = {
    b"Subject: a\n\nline one\n.\n..two dots\nend": (
        b"Subject: a\r\n\r\nline one\r\n.\r\n..two dots\r\nend\r\n"
    ),
    b"Subject: b\r\n\r\nbare CR\rthen CRLF\r\n.\r\n": (
        b"Subject: b\r\n\r\nbare CR\r\nthen CRLF\r\n.\r\n"
    ),
    b".Subject: c\r\n\r\n. space\r\n.\r\n\r\n..\r\n": (
        b".Subject: c\r\n\r\n. space\r\n.\r\n\r\n..\r\n"
    ),
    "Subject: d\r\n\r\nZoë écrit\r\n.fin\r\n".encode(): (
        "Subject: d\r\n\r\nZoë écrit\r\n.fin\r\n".encode()
    ),
}


def test_awkward_messages_arrive_with_crlf_line_ends_and_every_dot(
    keeping: tuple[list[bytes], int],
) -> None:
    """The server (which removes the doubled dots) receives each message's lines as
    written, ended by CRLF; a message in CRLF already arrives as ``smtplib.sendmail``
    delivers it."""
    received, port = keeping

    async def scenario() -> None:
        mailer = SmtpMailer(host=HOST, port=port, timeout=5)
        for data in AWKWARD:
            await mailer.send(OutgoingEmail("s@example.com", "a@example.com", "<m>", data))
        await mailer.close()

    asyncio.run(scenario())
    in_crlf = [data for data in AWKWARD.values() if data in AWKWARD]
    with smtplib.SMTP(HOST, port, timeout=5) as reference:
        for data in in_crlf:
            options = [] if data.isascii() else ["SMTPUTF8"]
            reference.sendmail("s@example.com", ["a@example.com"], data, options)
    assert received[: len(AWKWARD)] == list(AWKWARD.values())
    assert received[len(AWKWARD) :] == in_crlf and len(in_crlf) == 2


def test_non_ascii_addresses_wait_for_a_server_that_takes_smtputf8() -> None:
    """A server without SMTPUTF8 cannot take ``zoë@...``: the message waits (temporary),
    nothing reaches the server, and the connection carries the next message."""
    handler = Server()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, enable_SMTPUTF8=False)
    controller.start()

    mailer = SmtpMailer(host=HOST, port=port, timeout=5, connections=1)
    try:
        results = outcomes(mailer, "zoë@x.example", "a@x.example")
    finally:
        controller.stop()
    assert results[0].startswith("temporary the mail server does not take SMTPUTF8")
    assert results[1] == "sent"
    assert [r[0] for r in handler.received] == ["a@x.example"]
    assert handler.greetings == 1


@dataclass(frozen=True)
class Certificates:
    client: ssl.SSLContext
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A certificate authority the client trusts, and the server's certificate for
    127.0.0.1 signed by it."""
    folder: Path = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return Certificates(ssl.create_default_context(cafile=folder / "ca.pem"), server)


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
    ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"ann", b"s3cret")
    # Not handled here when refused: the server then answers 535 itself.
    return AuthResult(success=ok, handled=ok, auth_data=auth)


def test_starttls_when_offered_then_auth(certificates: Certificates) -> None:
    handler = Server()
    port = free_port()
    controller = Controller(
        handler,
        hostname=HOST,
        port=port,
        tls_context=certificates.server,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()

    def signed_in(password: str) -> SmtpMailer:
        return SmtpMailer(
            host=HOST,
            port=port,
            username="ann",
            password=password,
            timeout=5,
            tls_context=certificates.client,
        )

    async def scenario() -> list[str]:
        mailer = signed_in("s3cret")
        sent = [await outcome(mailer, "a@x.example"), await outcome(mailer, "b@x.example")]
        await mailer.close()
        untrusting = SmtpMailer(host=HOST, port=port, timeout=5)  # the system's CAs
        sent.append(await outcome(untrusting, "c@x.example"))
        await untrusting.close()
        # A wrong password (535) is the installation's fault, not the address's: the
        # message waits (temporary), the contact is not bounced.
        wrong = signed_in("wrong")
        sent.append(await outcome(wrong, "d@x.example"))
        await wrong.close()
        return sent

    try:
        results = asyncio.run(scenario())
    finally:
        controller.stop()
    assert results[:2] == ["sent", "sent"]
    assert results[2].startswith("temporary SSLCertVerificationError"), results[2]
    assert results[3].startswith("temporary the mail server refused the connection: 535"), results[
        3
    ]
    assert [(to, tls, login) for to, _, tls, login in handler.received] == [
        ("a@x.example", True, "ann"),
        ("b@x.example", True, "ann"),
    ]


def test_implicit_tls(certificates: Certificates) -> None:
    handler = Server()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, ssl_context=certificates.server)
    controller.start()

    async def scenario() -> str:
        mailer = SmtpMailer(
            host=HOST, port=port, use_tls=True, timeout=5, tls_context=certificates.client
        )
        result = await outcome(mailer, "a@x.example")
        await mailer.close()
        return result

    try:
        assert asyncio.run(scenario()) == "sent"
    finally:
        controller.stop()
    assert [(to, tls) for to, _, tls, _ in handler.received] == [("a@x.example", True)]
