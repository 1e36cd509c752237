"""The roles of dashboard users and API keys, and which role may do what another may."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Each role may do everything the roles before it may."""

    #: Reads everything (exports included), changes nothing.
    READ_ONLY = "read-only"
    #: Also works the feedback, the campaigns and the contacts.
    MEMBER = "member"
    #: Also manages users, roles, API keys, webhooks and the organization's settings.
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """True when this role may do what ``needed`` may."""
        return _RANK[self] >= _RANK[needed]

    @property
    def label(self) -> str:
        return {"read-only": "Read-only", "member": "Member", "admin": "Admin"}[self.value]


_RANK = {Role.READ_ONLY: 0, Role.MEMBER: 1, Role.ADMIN: 2}
#: Every role, the most powerful first (as forms list them).
ROLES: tuple[Role, ...] = (Role.ADMIN, Role.MEMBER, Role.READ_ONLY)


def parse_role(value: str) -> Role:
    """The role named ``value`` (``ValueError`` names the roles for anything else)."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        names = ", ".join(role.value for role in ROLES)
        raise ValueError(f"unknown role {value[:40]!r}: choose one of {names}") from None
