"""The `kairos` command line: one executable for the server, the agent and the operator."""
