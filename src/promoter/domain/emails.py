"""How contacts' email addresses are compared: trimmed and Unicode-casefolded."""

from __future__ import annotations


def email_key(email: str) -> str:
    """The form addresses are compared in (and stored in ``contacts.email_key``)."""
    return email.strip().casefold()
