"""What ``sending-domain COMMAND --help`` says beyond the options: what the command is for, an example, and the
environment variables it reads. Applied by :func:`~sending_domain.cli.main.build_parser` to every sub-command that
does not carry its own (a command module may set ``description``/``epilog`` itself)."""

from __future__ import annotations

import argparse

COMMON_ENV = (
    "SENDING_DOMAIN_DEBUG=1  print the traceback of an internal error (exit 4)\n"
    "  NO_COLOR                no colour, even on a terminal\n"
    "  COLUMNS                 the width human output fits in (default: the terminal's)"
)
AWS_ENV = (
    "AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_CONFIG_FILE,\n"
    "  AWS_SHARED_CREDENTIALS_FILE   the AWS credential chain (read by boto3)"
)

# command path → (description, example lines, environment lines specific to it)
HELP: dict[str, tuple[str, str, str]] = {
    "plan": (
        "Print every DNS record a stack publishes, computed offline by the same code as the Pulumi program: SPF "
        "flattened from the vendor lock, DKIM, DMARC, SES MAIL FROM. Long values are elided in the table to fit the "
        "terminal; --json and --format zone print them whole.",
        "sending-domain plan --stack example\n"
        "  sending-domain plan --stack prod --domain example.com --format zone\n"
        "  sending-domain plan --stack prod --outputs outputs.json --json",
        "",
    ),
    "verify": (
        "Check a deployed stack: the live DNS records, the SES identities (ses:GetEmailIdentity) and, with --smtp, a "
        "test message through SES SMTP. Exit 0 all passed, 1 a check failed, 3 a check could not be made (retry; the "
        "report still prints).",
        "sending-domain verify --stack prod --outputs outputs.json\n"
        "  sending-domain verify --stack prod --wait 1800 --json\n"
        "  sending-domain verify --config stack.yaml --no-ses --smtp --smtp-host localhost --smtp-port 2525 --smtp-ca ca.pem",
        "SENDING_DOMAIN_SMTP_USERNAME, SENDING_DOMAIN_SMTP_PASSWORD   ready SES SMTP credentials for --smtp (both or\n"
        "  neither); otherwise the SMTP password is derived from the IAM key of the AWS credential chain\n"
        f"  {AWS_ENV}; a session token (temporary credentials) is refused for --smtp",
    ),
    "drift": (
        "Compare live DNS and the vendors' SPF trees with the stack and print what differs as a plan (create, "
        "update, delete). Exit 0 no drift, 1 drift, 3 DNS failed for part of it (the rest is still reported).",
        "sending-domain drift --stack prod\n"
        "  sending-domain drift --stack prod --domain example.com --markdown > drift.md",
        "",
    ),
    "spf": (
        "Flatten a domain's SPF record from live DNS, or pin the vendor SPF trees of a stack in the lock next to the "
        "stack files (--update) and compare them with live DNS (--check).",
        "sending-domain spf flatten example.com\n  sending-domain spf lock --update --stack prod",
        "",
    ),
    "spf flatten": (
        "Print the flattened SPF record set of DOMAIN (or of --record TEXT), within the lookup and size budgets.",
        'sending-domain spf flatten example.com --record "v=spf1 include:_spf.google.com ~all" --json',
        "",
    ),
    "spf lock": (
        "Pin the vendor SPF trees the stack includes (--update) in stacks/spf.lock.json, or exit 1 when a vendor's "
        "live tree differs from the lock (--check).",
        "sending-domain spf lock --update --stack prod\n  sending-domain spf lock --check --stack prod --json",
        "",
    ),
    "init": (
        "Write a starter stack from what the domains publish today.",
        "sending-domain init example.com --stack prod",
        "",
    ),
    "dmarc": (
        "DMARC aggregate reports: read them into a local database, judge the next DMARC stage on them, and take it.",
        "sending-domain dmarc ingest reports/\n  sending-domain dmarc status --stack prod",
        "",
    ),
    "dmarc ingest": (
        "Read DMARC aggregate reports (XML, gzip, zip, e-mail, mbox, S3) into the report database.",
        "sending-domain dmarc ingest reports/ s3://bucket/dmarc/",
        AWS_ENV + " (for s3:// inputs)",
    ),
    "dmarc status": (
        "Per domain and sender: volume, alignment, unknown sources, and whether the next DMARC stage is safe; "
        "--write records the verdicts in the evidence file a step towards enforcement needs.",
        "sending-domain dmarc status --stack prod --json\n  sending-domain dmarc status --stack prod --write",
        "",
    ),
    "dmarc propose": (
        "Set dmarc.p and dmarc.pct to the next stage in the stack file, for each domain whose verdict in the "
        "evidence file is a PASS judged at its stage.",
        "sending-domain dmarc propose --stack prod",
        "",
    ),
}


class Formatter(argparse.HelpFormatter):
    """argparse's, except that text with line breaks of its own (examples, environment) is printed as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def apply(commands: argparse._SubParsersAction, prefix: str = "") -> None:
    """Give every sub-command (and theirs) a description, an example and its environment, unless it has its own."""
    for name, parser in commands.choices.items():
        path = f"{prefix}{name}"
        description, example, env = HELP.get(path, ("", "", ""))
        if parser.description is None and description:
            parser.description = description
        environment = "environment:\n  " + (f"{env}\n  " if env else "") + COMMON_ENV
        if parser.epilog is None:
            parser.epilog = "\n\n".join([*([f"example:\n  {example}"] if example else []), environment])
            parser.formatter_class = Formatter
        elif "environment:" not in parser.epilog:  # the command's own example, then what it reads
            parser.epilog = parser.epilog.rstrip("\n") + "\n\n" + environment
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                apply(action, f"{path} ")
