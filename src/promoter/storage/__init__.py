"""Storage: engine factory, table definitions and migrations."""
