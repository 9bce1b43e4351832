"""Celery task of commission: render and store an approved statement's PDF (the self-billing
credit note, Factur-X) after its approval commits. Safe to retry: a stored PDF is kept."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from ispbill.commission.statements import commission_statement_pdf
from ispbill.core.errors import DomainError
from ispbill.core.tenancy import system_scope
from ispbill.partners.models import CommissionStatement

log = logging.getLogger(__name__)


@shared_task(acks_late=True, max_retries=3)
def commission_statement_pdf_task(statement_id: int) -> dict[str, Any]:
    with system_scope():
        statement = CommissionStatement.objects.select_related("partner").get(pk=statement_id)
        try:
            commission_statement_pdf(statement)
        except DomainError as exc:  # kept in pdf_error; the next download tries again
            log.warning(
                "commission.statement_pdf_failed",
                extra={"statement_id": statement_id, "error": str(exc)},
            )
            return {"rendered": 0, "failed": 1}
    return {"rendered": 1, "failed": 0}
