"""One message over an open ``smtplib`` connection: MAIL, RCPT and DATA written to its
socket (in one write when the server offers PIPELINING), the server's answers read with
``smtplib``'s own reader.

``smtplib.SMTP.sendmail`` parses both addresses with the ``email`` package and runs the
whole message through two regular expressions (line ends, leading dots) for every
message; the worker's messages already end their lines with CRLF, so their wire form is a
byte replacement away. The answers mean what they mean to ``sendmail``: a refused
recipient or a 5xx leaves the connection usable (after RSET), a 4xx or a lost connection
does not.
"""

from __future__ import annotations

import re
import smtplib
import socket
from functools import lru_cache
from typing import NoReturn

from promoter.delivery.render import OutgoingEmail

#: An address written as it goes between the angle brackets: no spaces, brackets,
#: quotes, commas, semicolons or line breaks (anything else is parsed as smtplib does).
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")
#: Any line end that is not CRLF.
_BARE_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")


class Refused(Exception):
    """The server refused the message (``code`` and ``text`` as it answered)."""

    def __init__(self, code: int, text: bytes, *, usable: bool) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text
        #: Whether the connection can carry the next message.
        self.usable = usable


class NotSendable(Exception):
    """Not this message, not now: it needs an extension the server does not offer
    (SMTPUTF8), or the sender's address cannot be written in a command."""


class BadRecipient(ValueError):
    """The recipient's address cannot be written in a command (a line break, a lone
    surrogate)."""


def send(connection: smtplib.SMTP, message: OutgoingEmail) -> None:
    """Send ``message`` over ``connection`` (greeted, with a socket). Raises
    :class:`Refused` for an answer other than the expected one, :class:`NotSendable` or
    :class:`BadRecipient` before a word is sent, ``smtplib.SMTPException`` or ``OSError``
    when the connection is lost."""
    sock = connection.sock
    if sock is None:
        raise smtplib.SMTPServerDisconnected("the connection is closed")
    try:
        sender = envelope_address(message.sender)
    except ValueError as exc:
        raise NotSendable(f"the sender's address: {exc}") from exc
    try:
        recipient = envelope_address(message.recipient)
    except ValueError as exc:
        raise BadRecipient(str(exc)) from exc
    utf8 = not (sender.isascii() and recipient.isascii() and message.data.isascii())
    if utf8 and not connection.has_extn("smtputf8"):
        raise NotSendable("the mail server does not take SMTPUTF8 (non-ASCII addresses or text)")
    content = crlf_lines(message.data)
    options = f" SIZE={len(content)}" if connection.has_extn("size") else ""
    options += " SMTPUTF8" if utf8 else ""
    envelope = (
        (f"MAIL FROM:{sender}{options}\r\n".encode(), (250,)),
        (f"RCPT TO:{recipient}\r\n".encode(), (250, 251)),
        (b"DATA\r\n", (354,)),
    )
    if connection.has_extn("pipelining"):
        _pipelined(connection, sock, envelope)
    else:
        for step, (command, codes) in enumerate(envelope):
            sock.sendall(command)
            _expect(connection, codes, refusal_keeps=step == 1)
    sock.sendall(dot_stuffed(content))
    _expect(connection, (250,))


def _pipelined(
    connection: smtplib.SMTP,
    sock: socket.socket,
    envelope: tuple[tuple[bytes, tuple[int, ...]], ...],
) -> None:
    """MAIL, RCPT and DATA in one write, their answers read after (RFC 2920): one round
    trip to the server instead of three. The first refusal is the one raised; a DATA taken
    after a refusal is ended at once; a 421 (the server is closing) ends the connection."""
    sock.sendall(b"".join(command for command, _ in envelope))
    answers: list[tuple[int, bytes]] = []
    for _ in envelope:
        answers.append(connection.getreply())
        if answers[-1][0] == 421:
            break
    closing = answers[-1][0] == 421
    for step, ((_, codes), (code, text)) in enumerate(zip(envelope, answers, strict=False)):
        if code in codes:
            continue
        if closing:
            connection.close()
            raise Refused(code, text, usable=False)
        if answers[-1][0] == 354:
            sock.sendall(b".\r\n")
            connection.getreply()
        _refused(connection, code, text, refusal_keeps=step == 1)


def crlf_lines(data: bytes) -> bytes:
    """The message with CRLF line ends (RFC 5321, 2.3.8), the last line ended too: what
    SIZE counts (RFC 1870)."""
    crlf = data.count(b"\r\n")
    if crlf != data.count(b"\n") or crlf != data.count(b"\r"):
        data = _BARE_LINE_END.sub(b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def dot_stuffed(content: bytes) -> bytes:
    """``content`` (CRLF lines) as DATA sends it: a line starting with a dot doubled
    (RFC 5321, 4.5.2), then the line with one dot."""
    content = content.replace(b"\r\n.", b"\r\n..")
    if content.startswith(b"."):
        content = b"." + content
    return content + b".\r\n"


def envelope_address(address: str) -> str:
    """``<address>`` for MAIL FROM or RCPT TO; a display name or comment is dropped, as
    ``smtplib`` drops it. Refuses a line break, which would end the command, and what
    UTF-8 cannot write (a lone surrogate)."""
    if "\r" in address or "\n" in address:
        raise ValueError(f"an address cannot hold a line break: {address!r}")
    try:
        address.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(f"an address UTF-8 cannot write: {address!r}") from exc
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return _parsed(address)


@lru_cache(maxsize=64)
def _parsed(address: str) -> str:
    return smtplib.quoteaddr(address)


def _expect(
    connection: smtplib.SMTP, codes: tuple[int, ...], *, refusal_keeps: bool = False
) -> None:
    """Read the server's answer; raise :class:`Refused` unless it is one of ``codes``."""
    code, text = connection.getreply()
    if code not in codes:
        _refused(connection, code, text, refusal_keeps=refusal_keeps)


def _refused(connection: smtplib.SMTP, code: int, text: bytes, *, refusal_keeps: bool) -> NoReturn:
    """Raise :class:`Refused` for this answer. A refused recipient (``refusal_keeps``) or
    a 5xx is followed by RSET and the connection goes on; after a 4xx the server may be
    going away, and a 421 says it is."""
    if code == 421:
        connection.close()
        raise Refused(code, text, usable=False)
    usable = (code >= 500 or refusal_keeps) and _reset(connection)
    raise Refused(code, text, usable=usable)


def _reset(connection: smtplib.SMTP) -> bool:
    """RSET after a refusal; whether the connection answered it (and can go on)."""
    try:
        code, _ = connection.rset()
    except (smtplib.SMTPException, OSError):
        return False
    return code == 250
