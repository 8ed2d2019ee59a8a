"""The dispatcher: holds agents' streams, delivers executions, records what agents report."""
