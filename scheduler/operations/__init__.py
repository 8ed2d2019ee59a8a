"""The API's operations: validate with the domain, persist in one transaction, return ids.

Each function is one Cloud Assistant operation, free of gRPC; the servicers in
``scheduler.api`` translate protobuf to these calls and back.
"""
