"""``sending-domain verify``: check a deployed stack against what it wants — DNS, SES and a test mail.

Layout (pure modules take values and return :class:`~sending_domain.core.checks.CheckResult` values;
``*_probe`` modules do the I/O and nothing else):

- :mod:`.observed`      — what was seen in DNS, as values (answers, the live SPF tree, sender networks)
- :mod:`.orgdomain`     — the organizational domain for DMARC alignment (a small public-suffix rule)
- :mod:`.spf_checks`    — SPF: one record, lookups, voids, sizes, the published set, sender coverage
- :mod:`.record_checks` — DKIM, DMARC, report authorization, MAIL FROM, alignment
- :mod:`.ses_checks`    — the SES identity (``sesv2.get_email_identity`` response) against the stack
- :mod:`.smtp_result`   — SMTP outcomes classified by stage, with hints
- :mod:`.message`       — the test message (RFC 5322 + RFC 8058 one-click unsubscribe)
- :mod:`.dns_probe`, :mod:`.ses_probe`, :mod:`.smtp_probe` — the I/O
- :mod:`.runner`        — many domains concurrently, ``--wait`` with backoff, the SMTP test last
- :mod:`.report`        — the human tables and the JSON document
"""
