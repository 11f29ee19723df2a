"""Golden histories: captured from real devhost runs, replayed against today's orchestrators."""
