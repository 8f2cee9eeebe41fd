"""HTTP: the aiohttp app, its middleware, the routes per area, one OpenAPI assembly and live views."""
