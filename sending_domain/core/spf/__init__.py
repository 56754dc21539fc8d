"""SPF (RFC 7208): parsing, the evaluated tree, and flattening into records within the limits."""
