"""An organization's rules for its comment keywords — hide one, rename one, merge one into
another — stored, checked, and applied: each keyword found becomes the group it is shown
in (or none, hidden)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from promoter.storage.tables import keyword_rules

Action = Literal["hide", "rename", "merge"]
ACTIONS: tuple[Action, ...] = get_args(Action)
MAX_LENGTH = 200
#: Rules an organization may keep.
MAX_RULES = 1000


class RuleError(ValueError):
    """A rule that cannot be saved as asked (a 400)."""


class RuleConflict(RuleError):
    """The keyword has a rule already (a 409)."""


class RuleNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    keyword: str
    action: Action
    target: str | None
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "keyword": self.keyword,
            "action": self.action,
            "target": self.target,
            "created_at": self.created_at,
        }


def normalize(text: str) -> str:
    """A keyword as extracted: lower case, words separated by one space."""
    return " ".join(text.lower().split())


def _checked_text(text: str | None, name: str) -> str:
    if text is None or not text.strip():
        raise RuleError(f"{name}: required")
    if len(text) > MAX_LENGTH or "\x00" in text:
        raise RuleError(f"{name}: at most {MAX_LENGTH} characters")
    return text


def list_rules(conn: Connection, *, organization_id: int) -> list[Rule]:
    c = keyword_rules.c
    rows = conn.execute(
        select(c.id, c.keyword, c.action, c.target, c.created_at)
        .where(c.organization_id == organization_id)
        .order_by(c.keyword)
    ).all()
    return [Rule(r.id, r.keyword, r.action, r.target, r.created_at) for r in rows]


def create_rule(
    conn: Connection,
    *,
    organization_id: int,
    keyword: str,
    action: str,
    target: str | None,
    now: datetime,
) -> Rule:
    """Save a rule; a merge that would lead back to its keyword, or a second rule for one
    keyword, is refused."""
    if action not in ACTIONS:
        raise RuleError(f"action: expected one of {', '.join(ACTIONS)}")
    key = normalize(_checked_text(keyword, "keyword"))
    if action == "hide":
        if target is not None and target.strip():
            raise RuleError("target: a hide rule takes no target")
        target = None
    else:
        target = " ".join(_checked_text(target, "target").split())
        if action == "merge":
            target = normalize(target)
            if target == key:
                raise RuleError("target: a keyword cannot be merged into itself")
    existing = list_rules(conn, organization_id=organization_id)
    if len(existing) >= MAX_RULES:
        raise RuleError(f"an organization keeps at most {MAX_RULES} keyword rules")
    if action == "merge" and target is not None:
        merges = {r.keyword: r.target for r in existing if r.action == "merge" and r.target}
        seen, step = {key}, merges.get(target)
        while step is not None:
            if step in seen:
                raise RuleError(f"target: merging {key!r} into {target!r} makes a loop")
            seen.add(step)
            step = merges.get(step)
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                insert(keyword_rules)
                .values(
                    organization_id=organization_id,
                    keyword=key,
                    action=action,
                    target=target,
                    created_at=now,
                )
                .returning(keyword_rules.c.id)
            ).scalar_one()
    except IntegrityError:
        raise RuleConflict(f"keyword: {key!r} has a rule already; delete it first") from None
    return Rule(new_id, key, action, target, now)


def delete_rule(conn: Connection, *, organization_id: int, rule_id: int) -> None:
    c = keyword_rules.c
    done = conn.execute(
        delete(keyword_rules).where(c.organization_id == organization_id, c.id == rule_id)
    )
    if done.rowcount == 0:
        raise RuleNotFound("no such rule")


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules in effect: ``shown`` tells the group a keyword is counted in."""

    merges: dict[str, str]
    renames: dict[str, str]
    hidden: frozenset[str]

    @classmethod
    def of(cls, rules: list[Rule]) -> Rules:
        return cls(
            {r.keyword: r.target for r in rules if r.action == "merge" and r.target},
            {r.keyword: r.target for r in rules if r.action == "rename" and r.target},
            frozenset(r.keyword for r in rules if r.action == "hide"),
        )

    def final(self, keyword: str) -> str:
        """Where a keyword's merges lead (A into B, B into C: C); a loop stops where it
        would turn back."""
        seen = {keyword}
        while keyword in self.merges and self.merges[keyword] not in seen:
            keyword = self.merges[keyword]
            seen.add(keyword)
        return keyword

    def shown(self, keyword: str) -> str | None:
        """The name the keyword is shown under, or None when it (or the keyword it is
        merged into) is hidden. Keywords shown under the same name, whatever the case,
        are one group."""
        final = self.final(keyword)
        if final in self.hidden or keyword in self.hidden:
            return None
        return self.renames.get(final, final)


def load_rules(conn: Connection, *, organization_id: int) -> Rules:
    return Rules.of(list_rules(conn, organization_id=organization_id))
