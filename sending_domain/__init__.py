"""Infrastructure as code for email sending domains.

Layout (each layer may import only the ones above it):

- ``sending_domain.core``  — the pure core: SPF, DKIM, DMARC, stack settings, rendering, drift plans.
                             No Pulumi, no sockets, no environment.
- ``sending_domain.dns``   — DNS I/O at the edge: the async resolver and the SPF tree fetcher.
- ``sending_domain.verify``— the post-deploy verifier (live DNS, SES, SMTP).
- ``sending_domain.cli``   — the ``sending-domain`` command: a thin shell over the layers above.

The Pulumi program (``__main__.py`` and ``components/`` at the project root) calls the same core.
"""

__version__ = "0.1.0"
