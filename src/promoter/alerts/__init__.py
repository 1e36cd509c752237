"""NPS alerts: the scopes whose NPS moved beyond chance, told by webhook and email."""
