"""Tests of the agent: pure rules, real processes, a real gRPC stream."""
