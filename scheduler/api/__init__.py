"""The gRPC edge: servicers that translate protobuf to operations, and interceptors."""
