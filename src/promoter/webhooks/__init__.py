"""Outbound webhooks: events sent to URLs that organizations subscribe (see
docs/webhooks.md). This package knows no feature: each feature builds its events' data
and emits them (``feedback.events``, ``contacts.events``, ``delivery.events``).

- :mod:`events`: the event names; ``emit`` puts an event in the outbox, in the caller's
  transaction; ``subscribed`` says whether anyone wants it;
- :mod:`subscriptions`: subscriptions and their delivery log (the API, CLI and dashboard);
- :mod:`outbox`: claiming due deliveries with a lease, recording what became of them;
- :mod:`sender`: the HTTP side: signed requests, retries with backoff, disabling;
- :mod:`targets`: which addresses webhooks may reach (the operator's policy);
- :mod:`transport`: the sender's HTTP transport, connecting only to addresses it checked;
- :mod:`signing`: the ``Promoter-Signature`` header, and how a receiver checks it;
- :mod:`slack`: the message a ``slack`` subscription receives instead of the envelope.
"""
