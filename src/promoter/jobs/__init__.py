"""Work kept in a table and done later: the leased claim, the retry policy and the loop
that every outbox (survey emails, webhooks) shares."""
