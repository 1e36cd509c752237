"""One message over an open ``smtplib`` connection: MAIL, RCPT and DATA written to its
socket, the server's answers read with ``smtplib``'s own reader.

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
from functools import lru_cache

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
    """The recipient's address cannot be written in a command (a line break)."""


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
    options = f" SIZE={len(message.data)}" if connection.has_extn("size") else ""
    encoding = "ascii"
    if not (sender.isascii() and recipient.isascii() and message.data.isascii()):
        if not connection.has_extn("smtputf8"):
            raise NotSendable("the mail server does not take SMTPUTF8 (non-ASCII addresses)")
        options += " SMTPUTF8"
        encoding = "utf-8"
    data = wire_data(message.data)
    sock.sendall(f"MAIL FROM:{sender}{options}\r\n".encode(encoding))
    _expect(connection, (250,))
    sock.sendall(f"RCPT TO:{recipient}\r\n".encode(encoding))
    _expect(connection, (250, 251), refusal_keeps=True)
    sock.sendall(b"DATA\r\n")
    _expect(connection, (354,))
    sock.sendall(data)
    _expect(connection, (250,))


def wire_data(data: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, a line starting with a dot doubled
    (RFC 5321, 4.5.2), then the line with one dot."""
    if data.count(b"\r\n") != data.count(b"\n") or data.count(b"\r\n") != data.count(b"\r"):
        data = _BARE_LINE_END.sub(b"\r\n", data)
    data = data.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def envelope_address(address: str) -> str:
    """``<address>`` for MAIL FROM or RCPT TO; a display name or comment is dropped, as
    ``smtplib`` drops it. Refuses a line break, which would end the command."""
    if "\r" in address or "\n" in address:
        raise ValueError(f"an address cannot hold a line break: {address!r}")
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return _parsed(address)


@lru_cache(maxsize=64)
def _parsed(address: str) -> str:
    return smtplib.quoteaddr(address)


def _expect(
    connection: smtplib.SMTP, codes: tuple[int, ...], *, refusal_keeps: bool = False
) -> None:
    """Read the server's answer; raise :class:`Refused` unless it is one of ``codes``.
    A refused recipient (``refusal_keeps``) or a 5xx is followed by RSET and the
    connection goes on; after a 4xx the server may be going away."""
    code, text = connection.getreply()
    if code in codes:
        return
    if code == 421:  # the server is closing the connection
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
