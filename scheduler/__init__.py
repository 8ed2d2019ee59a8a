"""Kairos scheduler: the public API, the schedule engine, storage and the operator CLI."""
