"""Organizations (accounts) and their API keys."""
