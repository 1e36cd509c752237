"""Feedback: the responses as the team reads and follows them up (see docs/webhooks.md for
the events).

- :mod:`reading`: a page of feedback for a question, one response by id, the CSV export;
- :mod:`search`: searching the comments (words, phrases, a word's start);
- :mod:`responses`: whether the organization has a response, its tags, stamping it changed;
- :mod:`followup`: a response's status (OPEN / CLOSED) and tags;
- :mod:`bulk`: tags and status changed on several responses at once;
- :mod:`notes`: notes the team writes on a response;
- :mod:`events`: the webhook events about feedback and the score, and their data.
"""
