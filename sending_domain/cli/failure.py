"""Any error a command ends with, as one line for people, a JSON error for machines, and an exit code.

Known errors keep the exit code of their class (:mod:`~sending_domain.core.errors`). AWS configuration
errors (a profile that does not exist, a config file that does not parse, a ``credential_process`` that fails)
and files that cannot be read or written are the user's to fix: exit 2, naming the profile or the file.
Anything else is a bug of ours: exit 4 (``internal``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from sending_domain.core.errors import ConfigError, Problem, SendingDomainError
from sending_domain.core.text import printable

ERROR_VERSION = 1
INTERNAL = 4
MAX_MESSAGE = 500  # characters of a foreign error's text (an AWS credential helper's stderr, say)


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    exit_code: int
    path: str = ""
    source: str = ""
    problems: tuple[Problem, ...] = field(default=())
    internal: bool = False


def describe(error: BaseException, code: str | None = None) -> Failure:
    """What ``error`` means for the person (or script) who ran the command."""
    if isinstance(error, ConfigError):
        first = error.problems[0] if error.problems else Problem("", "invalid", str(error))
        return Failure(first.code, str(error), 2, first.path, error.source, tuple(error.problems))
    if isinstance(error, SendingDomainError):
        return Failure(code or _class_code(error), str(error), error.exit_code)
    aws = _aws_config(error)
    if aws is not None:
        return aws
    if isinstance(error, OSError) and not isinstance(error, (BrokenPipeError, ConnectionError)):
        where = f": {error.filename}" if error.filename else ""
        return Failure("os-error", f"{error.strerror or type(error).__name__}{where}", 2, source=str(error.filename or ""))
    if code is not None:
        return Failure(code, str(error), 2)
    return Failure("internal", f"{type(error).__name__}: {_short(str(error))}", INTERNAL, internal=True)


def error_document(failure: Failure, exit_code: int) -> dict:
    """The JSON error (docs/json.md, ``docs/schemas/error.schema.json``)."""
    return {
        "version": ERROR_VERSION,
        "kind": "error",
        "exit_code": exit_code,
        "error": {"code": failure.code, "message": failure.message, "path": failure.path, "source": failure.source},
        "problems": [{"code": p.code, "message": p.message, "path": p.path} for p in failure.problems],
    }


def _class_code(error: SendingDomainError) -> str:
    from sending_domain.core import errors

    for cls, name in (
        (errors.DnsTransientError, "dns-transient"),
        (errors.DnsError, "dns"),
        (errors.SpfError, "spf"),
        (errors.DriftFound, "drift"),
        (errors.CheckFailed, "check-failed"),
    ):
        if isinstance(error, cls):
            return name
    return "error"


def _aws_config(error: BaseException) -> Failure | None:
    """botocore's configuration and credential errors as exit 2, naming the profile or file (no import if unused)."""
    if "botocore.exceptions" not in sys.modules:
        return None
    from botocore import exceptions as aws

    kw = getattr(error, "kwargs", {}) or {}
    if isinstance(error, aws.ProfileNotFound):
        message = (
            f"the AWS profile {kw.get('profile')!r} does not exist (from AWS_PROFILE or the command line); "
            "list the profiles with `aws configure list-profiles` or set AWS_PROFILE to one of them"
        )
    elif isinstance(error, aws.ConfigParseError):
        message = f"the AWS config file {kw.get('path')} does not parse; fix it (or point AWS_CONFIG_FILE elsewhere)"
    elif isinstance(error, aws.CredentialRetrievalError):
        said = _short(str(kw.get("error_msg", "")))
        profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"
        kw = {**kw, "profile": profile}
        message = (f"the AWS credential provider {kw.get('provider', '')} of profile {profile!r} failed: {said}; "
                   "check the profile's credential_process")
    elif isinstance(error, (aws.PartialCredentialsError, aws.InvalidConfigError, aws.UnknownCredentialError,
                            aws.NoRegionError, aws.ConfigNotFound, aws.InvalidRegionError)):
        message = f"AWS configuration: {_short(str(error))}"
    else:
        return None
    return Failure("aws-config", message, 2, source=str(kw.get("path") or kw.get("profile") or ""))


def _short(text: str) -> str:
    text = printable(text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
