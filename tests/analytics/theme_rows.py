"""A theme written straight to the database, as a clustering round leaves one, for tests
that need a theme but not the model (isolation, the browser's walk of the pages)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, insert

from promoter.storage.tables import comment_vectors, themes


def a_theme(conn: Connection, organization_id: int, response_id: int, label: str) -> int:
    """A theme named ``label`` holding one answer's comment."""
    vector = np.zeros(384, dtype=np.float32)
    vector[0] = 1
    now = datetime.now(UTC)
    theme_id = conn.execute(
        insert(themes)
        .values(
            organization_id=organization_id,
            label=label,
            centroid=vector.tobytes(),
            size=1,
            created_at=now,
            updated_at=now,
        )
        .returning(themes.c.id)
    ).scalar_one()
    conn.execute(
        insert(comment_vectors).values(
            response_id=response_id,
            organization_id=organization_id,
            text_hash="0" * 16,
            vector=vector.astype("<f2").tobytes(),
            theme_id=theme_id,
            embedded_at=now,
        )
    )
    return int(theme_id)
