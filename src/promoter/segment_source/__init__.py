"""Promoter as a Segment source: an organization's survey facts (sent, answered,
commented) sent as Segment messages to its Segment workspace, or to any host that speaks
Segment's HTTP API (RudderStack's data plane, another Promoter)."""
