"""The gRPC edge: servicers, proto <-> domain mapping, errors as statuses."""
