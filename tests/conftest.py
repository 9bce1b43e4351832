from __future__ import annotations

from collections.abc import Iterator

import pytest

from ispbill.core.tenancy import system_scope


@pytest.fixture(autouse=True)
def _system_scope() -> Iterator[None]:
    """Tests act as background work (all partners) unless they open another scope."""
    with system_scope():
        yield


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Stored PDFs (rendered after commit in transactional tests) go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path_factory.getbasetemp() / "media"


@pytest.fixture(autouse=True)
def _billing_run_inline(settings):  # type: ignore[no-untyped-def]
    """A run started from the web goes on in the request, inside the test's transaction
    (tests/web/test_billing_background.py runs it in its thread, as served)."""
    settings.BILLING_RUN_IN_THREAD = False


@pytest.fixture(autouse=True)
def _invoices_not_emailed_on_issue(settings):  # type: ignore[no-untyped-def]
    """Issued invoices are not e-mailed by themselves, so a test's mail is its own
    (tests/invoicing/test_email_on_issue.py switches it on)."""
    settings.EMAIL_INVOICES_ON_ISSUE = False


@pytest.fixture
def home(db):  # type: ignore[no-untyped-def]
    from ispbill.partners.services import partner_home

    return partner_home()
