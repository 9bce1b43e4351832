from django.apps import AppConfig


class SepaConfig(AppConfig):
    name = "ispbill.sepa"
    label = "sepa"
    verbose_name = "SEPA direct debit"

    def ready(self) -> None:
        # Invoices issued to a customer with an active mandate carry the pre-notification;
        # invoicing knows nothing of SEPA, it calls what is registered with it.
        from ispbill.dunning import services as dunning
        from ispbill.invoicing import documents
        from ispbill.invoicing.signals import invoices_issued
        from ispbill.payments.selectors import COLLECTED_OTHERWISE
        from ispbill.sepa import checks, notices

        invoices_issued.connect(notices.on_invoices_issued, dispatch_uid="sepa.notices")
        if notices.debit_notices_document_data not in documents.DOCUMENT_DATA_HOOKS:
            documents.DOCUMENT_DATA_HOOKS.append(notices.debit_notices_document_data)
        if notices.being_collected not in dunning.DUNNING_EXCLUSIONS:
            dunning.DUNNING_EXCLUSIONS.append(notices.being_collected)
        if notices.pre_notified not in COLLECTED_OTHERWISE:
            COLLECTED_OTHERWISE.append(notices.pre_notified)
        assert checks  # registers the SEPA invariants of ``ispbill check``
