"""A demo organization, "Demo Inc.", with a year of realistic data.

Contacts and their events (orders included) go through the real ingestion path; surveys
are answered through the real answer path, at past times, so analytics, breakdowns and
trends show what a year of use looks like. Everything is drawn from a seeded
``random.Random`` and dated relative to ``now``: the same seed gives the same data, and
the last twelve months are always filled.

The organization is built under a provisional name and takes its real name, together
with its demo user, in one last transaction: an organization named "Demo Inc." with
that user is a complete demo, and a build that was interrupted is discarded and made
again.

The modules: who signs in (``login``), the calendar (``clock``), the customers and their
traits (``people``), their year of events (``activity``), the campaigns (``campaigns``),
the surveys sent and answered (``answers``, with ``comments``), how it is all written
(``writes``) and the build itself (``build``).
"""

from promoter.demo.build import (
    DEFAULT_CONTACTS,
    DEFAULT_SEED,
    build_demo,
    discard_incomplete,
    ensure_demo,
)
from promoter.demo.comments import COMMENTS, TAGS
from promoter.demo.login import (
    DEMO_EMAIL,
    DEMO_ORGANIZATION,
    DEMO_PASSWORD,
    INCOMPLETE_NAME,
    DemoLogin,
    find_demo,
)

__all__ = [
    "COMMENTS",
    "DEFAULT_CONTACTS",
    "DEFAULT_SEED",
    "DEMO_EMAIL",
    "DEMO_ORGANIZATION",
    "DEMO_PASSWORD",
    "INCOMPLETE_NAME",
    "TAGS",
    "DemoLogin",
    "build_demo",
    "discard_incomplete",
    "ensure_demo",
    "find_demo",
]
