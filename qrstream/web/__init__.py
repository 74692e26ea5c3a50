"""The HTTP and websocket layer: aiohttp handlers over the domain services."""
