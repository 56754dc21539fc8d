"""Read one SES identity with a boto3 ``sesv2`` client handed in (I/O only).

``client.get_email_identity(EmailIdentity=domain)``; the response goes to the pure
:func:`~.ses_checks.ses_checks`. Errors become check results: no such identity → ``fail``; throttling,
timeouts and endpoint trouble → ``error`` (exit 3); access denied → ``fail`` with the permission to add.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, NoCredentialsError

from sending_domain.core.checks import CheckResult, errored, failed
from sending_domain.core.settings import DomainSettings
from sending_domain.verify.ses_checks import missing_identity, ses_checks

TRANSIENT_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "ServiceUnavailable", "InternalFailure", "RequestTimeout"})


def check_identity(client: Any, settings: DomainSettings) -> list[CheckResult]:
    """The SES checks of one domain (its settings have an ``ses`` block)."""
    assert settings.ses is not None
    region = settings.ses.region
    try:
        identity = client.get_email_identity(EmailIdentity=settings.domain)
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        if code == "NotFoundException":
            return [missing_identity(settings)]
        if code in TRANSIENT_CODES:
            return [errored("ses.identity", f"SES in {region} answered {code}")]
        if code in ("AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException"):
            return [failed("ses.identity", f"SES in {region} refused the request ({code})", "use AWS credentials allowed ses:GetEmailIdentity in this account")]
        return [failed("ses.identity", f"SES in {region} answered {code or 'an error'}", "see the AWS error code")]
    except NoCredentialsError:
        return [failed("ses.identity", "no AWS credentials for SES", "configure the AWS credential chain, or pass --no-ses")]
    except (BotoConnectionError, BotoCoreError) as e:
        return [errored("ses.identity", f"cannot reach SES in {region}: {type(e).__name__}")]
    return ses_checks(settings, identity)
