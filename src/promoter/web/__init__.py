"""HTTP routers: Segment endpoints, the REST API, health."""
