"""The server's routers, one module per concern; `create_app` includes them all."""
