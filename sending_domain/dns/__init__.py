"""DNS I/O at the edge of the core."""
