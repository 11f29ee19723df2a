"""devhost's Durable Functions backend: the SQLite task hub, replay through the official SDK, the HTTP API."""
