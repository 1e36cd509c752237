"""The in-app web survey: an organization's settings (site key, identity secret, allowed
origins), the identity signature and the CORS policy."""
