"""A survey email prepared once per template: its bytes with holes for what differs from
one contact to the next (the addressee, date, Message-ID, signed links, MIME boundary).

Rendering the templates and serialising the MIME tree cost milliseconds; a campaign's
emails differ only in those few values. :class:`PreparedEmail` is the serialised message
of one template, cut where the values go; :meth:`PreparedEmail.fill` joins the pieces with
each message's values, encoded as the standard library's generator encodes them, so the
bytes are those the full build would give.
"""

from __future__ import annotations

import binascii
import random
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from email.policy import Compat32

#: What a signed survey token may hold to take the place of a marker unchanged: the
#: characters that neither HTML escaping nor a header changes.
SAFE_VALUE = re.compile(r"[A-Za-z0-9_.~-]+")

#: The holes whose value is a body part's text, sent base64-encoded.
BODY_HOLES = ("text", "html")
#: The hole that is the multipart boundary (several places).
BOUNDARY = "boundary"

_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))
_BASE64_LINE = 76
_ONE_LINE = re.compile(r"[!-~]+(?: [!-~]+)*")


def new_boundary() -> str:
    """A MIME boundary in the standard library's form (``email.generator``)."""
    return "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}" + "=="


def base64_body(text: str) -> bytes:
    """A body part's text as ``email`` writes a UTF-8 part: base64 lines of 76 characters
    (57 bytes each), each ended by CRLF."""
    encoded = binascii.b2a_base64(text.encode("utf-8"), newline=False)
    if not encoded:
        return b""
    lines = [encoded[i : i + _BASE64_LINE] for i in range(0, len(encoded), _BASE64_LINE)]
    return b"\r\n".join(lines) + b"\r\n"


def fold(policy: Compat32, name: str, value: str) -> bytes:
    """The header line ``policy.fold_binary`` writes, without its cost for the common
    case: printable ASCII words separated by single spaces, short enough for one line."""
    if _ONE_LINE.fullmatch(value) and len(name) + 2 + len(value) <= (policy.max_line_length or 0):
        return f"{name}: {value}{policy.linesep}".encode("ascii")
    return policy.fold_binary(name, value)


@dataclass(frozen=True, slots=True)
class PreparedEmail:
    """The serialised message cut into literal bytes and named holes."""

    #: Alternating: literal bytes, then a hole's name, ..., ending with literal bytes.
    pieces: tuple[bytes | str, ...]
    #: The marker the signed token stood in for, and the body parts' texts cut around it.
    marker: str
    texts: Mapping[str, tuple[str, ...]]
    policy: Compat32

    @classmethod
    def cut(
        cls,
        data: bytes,
        *,
        holes: Mapping[str, bytes],
        counts: Mapping[str, int],
        marker: str,
        texts: Mapping[str, str],
        policy: Compat32,
    ) -> PreparedEmail | None:
        """``data`` cut at each hole's bytes (``holes``), each found exactly as many
        times as ``counts`` says; None when the message does not cut cleanly (a marker
        left over, a hole found more or less often), and then it is built in full."""
        found: list[tuple[int, int, str]] = []
        for name, needle in holes.items():
            start = data.find(needle)
            while start != -1:
                found.append((start, start + len(needle), name))
                start = data.find(needle, start + len(needle))
        found.sort()
        if any(sum(1 for f in found if f[2] == n) != counts.get(n, 1) for n in holes):
            return None
        pieces: list[bytes | str] = []
        position = 0
        for start, end, name in found:
            if start < position:
                return None
            pieces += [data[position:start], name]
            position = end
        pieces.append(data[position:])
        if any(isinstance(p, bytes) and marker.encode() in p for p in pieces):
            return None
        return cls(
            tuple(pieces), marker, {k: tuple(v.split(marker)) for k, v in texts.items()}, policy
        )

    def fill(self, *, signed: str, headers: Mapping[str, str]) -> bytes:
        """The message's bytes: ``signed`` where the marker was, each header of
        ``headers`` (name: value; its hole has the header's name) folded in its hole, a
        fresh boundary."""
        values: dict[str, bytes] = {
            name: base64_body(signed.join(parts)) for name, parts in self.texts.items()
        }
        values[BOUNDARY] = new_boundary().encode("ascii")
        for name, value in headers.items():
            values[name] = fold(self.policy, name, value)
        return b"".join(values[p] if isinstance(p, str) else p for p in self.pieces)
