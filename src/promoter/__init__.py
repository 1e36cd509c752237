"""Promoter: self-hosted NPS surveys driven by a Segment event stream."""

__version__ = "0.1.0"
