"""The server process: configuration, assembly of its roles, and its CLI."""
