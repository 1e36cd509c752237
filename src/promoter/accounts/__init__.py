"""Dashboard users: accounts, password hashing, sign-in sessions."""
