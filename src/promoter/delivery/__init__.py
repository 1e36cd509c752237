"""Delivering surveys: the outbox, the worker, mail backends and the email itself."""
