"""The pure core: values, parsing, rendering and planning. Never imports pulumi, never opens a socket."""
