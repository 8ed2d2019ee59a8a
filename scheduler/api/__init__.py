"""The client API: servicers that translate protobuf requests to operations and back."""
