"""Contacts, their attributes, lists, events and orders: read side."""
