"""The REST API under /api/v2/ (and Promoter's v1 paths): one router module per resource."""
