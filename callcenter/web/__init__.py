"""HTTP and WebSocket adapters (aiohttp)."""
