"""The replay environment: recorded market data drives the book the agent quotes in (``env.name: replay``)."""
