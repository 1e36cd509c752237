"""Segment ingestion: request payloads in, contacts, lists, events and orders out."""
