"""The REST API: thin FastAPI routers over the node's use cases."""
