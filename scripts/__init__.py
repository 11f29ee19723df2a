"""Developer scripts (not deployed): the demo loader."""
