"""What happened to each message of a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["accepted", "duplicate", "ignored", "rejected"]


@dataclass(frozen=True, slots=True)
class MessageResult:
    index: int
    message_id: str | None
    status: Status
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"index": self.index, "status": self.status}
        if self.message_id is not None:
            data["messageId"] = self.message_id
        if self.reason is not None:
            data["reason"] = self.reason
        return data
