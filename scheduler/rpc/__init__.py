"""The gRPC edge shared by the client API and the agent stream.

Caller identity (bearer tokens), the interceptor that authenticates calls and
translates domain errors into gRPC statuses, proto <-> domain conversions, the
RPC context type and the count of client calls in flight for a graceful stop.
"""
