"""Surveys: scheduling them from track events, delivering them, recording answers."""
