from django.urls import path

from ispbill.web import (
    views,
    views_access,
    views_brand,
    views_catalog,
    views_customers,
    views_data,
    views_datev,
    views_dunning,
    views_emails,
    views_finance,
    views_gateways,
    views_lifecycle,
    views_partners,
    views_plan_changes,
    views_portal,
    views_radius,
    views_sepa,
    views_templates,
    views_topups,
    views_usage,
    views_webhooks,
)

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    # partners
    path("partners/", views_partners.partners, name="partners"),
    path("partners/new/", views_partners.partner_new, name="partner_new"),
    path("partners/<int:partner_id>/", views_partners.partner_detail, name="partner"),
    path("partners/<int:partner_id>/edit/", views_partners.partner_edit, name="partner_edit"),
    path(
        "partners/<int:partner_id>/tariffs/",
        views_partners.partner_tariffs,
        name="partner_tariffs",
    ),
    path(
        "partners/<int:partner_id>/tariffs/save/",
        views_partners.partner_tariffs_save,
        name="partner_tariffs_save",
    ),
    path(
        "partners/<int:partner_id>/tariffs/make-all-available/",
        views_partners.partner_tariffs_all,
        name="partner_tariffs_all",
    ),
    path(
        "partners/<int:partner_id>/toggle/",
        views_partners.partner_toggle,
        name="partner_toggle",
    ),
    # customers
    path("customers/", views_customers.customers, name="customers"),
    path("customers/new/", views_customers.customer_new, name="customer_new"),
    path("customers/<int:customer_id>/", views_customers.customer_detail, name="customer"),
    path("customers/<int:customer_id>/edit/", views_customers.customer_edit, name="customer_edit"),
    path(
        "customers/<int:customer_id>/partner/",
        views_customers.customer_partner_move_view,
        name="customer_partner_move",
    ),
    path(
        "customers/<int:customer_id>/status/",
        views_customers.customer_status,
        name="customer_status",
    ),
    path(
        "customers/<int:customer_id>/services/new/",
        views_customers.service_new,
        name="service_new",
    ),
    path(
        "customers/<int:customer_id>/charges/new/",
        views_customers.one_time_charge_new,
        name="one_time_charge_new",
    ),
    # services and their plan changes
    path("services/<int:service_id>/", views_plan_changes.service_detail, name="service"),
    path("services/<int:service_id>/topup/", views_topups.service_topup, name="service_topup"),
    path("services/<int:service_id>/edit/", views_lifecycle.service_edit, name="service_edit"),
    path("services/<int:service_id>/end/", views_lifecycle.service_end_view, name="service_end"),
    path(
        "customers/<int:customer_id>/terminate/",
        views_lifecycle.customer_terminate_view,
        name="customer_terminate",
    ),
    path(
        "services/<int:service_id>/change-plan/",
        views_plan_changes.service_change_plan,
        name="service_change_plan",
    ),
    path(
        "plan-changes/<int:plan_change_id>/cancel/",
        views_plan_changes.plan_change_cancel_view,
        name="plan_change_cancel",
    ),
    path(
        "customers/<int:customer_id>/statement/",
        views_customers.customer_statement_view,
        name="customer_statement",
    ),
    path(
        "customers/<int:customer_id>/statement/pdf/",
        views_customers.customer_statement_pdf,
        name="customer_statement_pdf",
    ),
    # catalog
    path("catalog/tariffs/", views_catalog.tariffs, name="tariffs"),
    path("catalog/tariffs/new/", views_catalog.tariff_new, name="tariff_new"),
    path("catalog/tariffs/<int:tariff_id>/edit/", views_catalog.tariff_edit, name="tariff_edit"),
    path("catalog/tax-rates/new/", views_catalog.tax_rate_new, name="tax_rate_new"),
    path(
        "catalog/tax-rates/<int:tax_rate_id>/edit/",
        views_catalog.tax_rate_edit,
        name="tax_rate_edit",
    ),
    # billing runs
    path("billing/", views_finance.billing, name="billing"),
    path("billing/preview/", views_finance.billing_preview, name="billing_preview"),
    path("billing/start/", views_finance.billing_start, name="billing_start"),
    path("billing/runs/<int:run_id>/", views_finance.billing_run, name="billing_run"),
    path(
        "billing/runs/<int:run_id>/progress/",
        views_finance.billing_run_progress,
        name="billing_run_progress",
    ),
    path(
        "billing/runs/<int:run_id>/resume/",
        views_finance.billing_run_resume_view,
        name="billing_run_resume",
    ),
    # invoices, credit notes, payments
    path("invoices/", views_finance.invoices, name="invoices"),
    path("invoices/aggregated/", views_finance.aggregated, name="aggregated"),
    path("invoices/<int:invoice_id>/", views_finance.invoice_detail, name="invoice"),
    path("invoices/<int:invoice_id>/pdf/", views_finance.invoice_pdf, name="invoice_pdf"),
    path(
        "invoices/<int:invoice_id>/detail.csv",
        views_finance.invoice_detail_csv_view,
        name="invoice_detail_csv",
    ),
    path(
        "invoices/<int:invoice_id>/send/",
        views_finance.invoice_send_view,
        name="invoice_send",
    ),
    path(
        "credit-notes/<int:credit_note_id>/pdf/",
        views_finance.credit_note_pdf_view,
        name="credit_note_pdf",
    ),
    path(
        "invoices/<int:invoice_id>/credit-note/",
        views_finance.credit_note_new,
        name="credit_note_new",
    ),
    path("payments/", views_finance.payments, name="payments"),
    path("payments/new/", views_finance.payment_new, name="payment_new"),
    path(
        "payments/new/customers/",
        views_finance.payment_customers,
        name="payment_customers",
    ),
    path(
        "payments/<int:payment_id>/refund/",
        views_finance.payment_refund_view,
        name="payment_refund",
    ),
    path(
        "payments/<int:payment_id>/receipt/",
        views_finance.payment_receipt_pdf,
        name="payment_receipt_pdf",
    ),
    # the e-mail log (docs/documents.md, "The e-mail log: page and API")
    path("emails/", views_emails.emails, name="emails"),
    path("emails/retry/", views_emails.emails_retry, name="emails_retry"),
    path("emails/send-queued/", views_emails.emails_send_queued, name="emails_send_queued"),
    path("emails/<int:email_id>/retry/", views_emails.email_retry, name="email_retry"),
    path("dunning/", views_dunning.dunning, name="dunning"),
    path("dunning/run/", views_dunning.dunning_run_view, name="dunning_run"),
    # commission statements
    path("commissions/", views_finance.commissions, name="commissions"),
    path("commissions/build/", views_finance.commissions_build, name="commissions_build"),
    path(
        "commissions/build-closed/",
        views_finance.commissions_build_closed,
        name="commissions_build_closed",
    ),
    path("commissions/<int:statement_id>/", views_finance.commission_detail, name="commission"),
    path(
        "commissions/<int:statement_id>/pdf/",
        views_finance.commission_pdf,
        name="commission_pdf",
    ),
    path(
        "commissions/<int:statement_id>/xml/",
        views_finance.commission_xml,
        name="commission_xml",
    ),
    path(
        "commissions/<int:statement_id>/csv/",
        views_finance.commission_csv,
        name="commission_csv",
    ),
    path(
        "commissions/<int:statement_id>/approve/",
        views_finance.commission_approve,
        name="commission_approve",
    ),
    path(
        "commissions/<int:statement_id>/pay/",
        views_finance.commission_pay,
        name="commission_pay",
    ),
    # SEPA direct debit
    path("collections/", views_sepa.collections, name="collections"),
    path("collections/run/", views_sepa.collection_run_view, name="collection_run"),
    path("collections/returns/", views_sepa.returns_import, name="sepa_returns"),
    path("collections/<int:collection_id>/", views_sepa.collection_detail, name="collection"),
    path(
        "collections/<int:collection_id>/pain008.xml",
        views_sepa.collection_file,
        name="collection_file",
    ),
    path(
        "collections/<int:collection_id>/<str:action>/",
        views_sepa.collection_action,
        name="collection_action",
    ),
    path(
        "customers/<int:customer_id>/mandates/new/",
        views_sepa.mandate_new,
        name="mandate_new",
    ),
    path(
        "mandates/<int:mandate_id>/revoke/",
        views_sepa.mandate_revoke_view,
        name="mandate_revoke",
    ),
    path("mandates/<int:mandate_id>/final/", views_sepa.mandate_final_view, name="mandate_final"),
    path("settings/direct-debit/", views_sepa.creditor_settings_view, name="sepa_settings"),
    # settings
    path("settings/", views.issuer_settings, name="settings"),
    path("settings/brand/", views_brand.brand_settings, name="brand_settings"),
    path("partners/<int:partner_id>/brand/", views_brand.partner_brand, name="partner_brand"),
    path("brand/<int:partner_id>/logo/", views_brand.brand_logo, name="brand_logo"),
    path("settings/numbering/", views.sequence_next, name="sequence_next"),
    # customer portal
    path("portal/", views_portal.portal, name="portal"),
    path("portal/invoices/", views_portal.portal_invoices, name="portal_invoices"),
    path(
        "portal/invoices/<int:invoice_id>/pdf/",
        views_portal.portal_invoice_pdf,
        name="portal_invoice_pdf",
    ),
    path(
        "portal/invoices/<int:invoice_id>/detail.csv",
        views_portal.portal_invoice_detail_csv,
        name="portal_invoice_detail_csv",
    ),
    path(
        "portal/payments/<int:payment_id>/receipt/",
        views_portal.portal_receipt_pdf,
        name="portal_receipt_pdf",
    ),
    path(
        "portal/credit-notes/<int:credit_note_id>/pdf/",
        views_portal.portal_credit_note_pdf,
        name="portal_credit_note_pdf",
    ),
    path("portal/statement/", views_portal.portal_statement, name="portal_statement"),
    path("portal/statement/pdf/", views_portal.portal_statement_pdf, name="portal_statement_pdf"),
    path("portal/profile/", views_portal.portal_profile, name="portal_profile"),
    path("portal/invoices/<int:invoice_id>/", views_portal.portal_invoice, name="portal_invoice"),
    path("portal/direct-debit/", views_sepa.portal_direct_debit, name="portal_direct_debit"),
    path("portal/autopay/", views_gateways.portal_autopay, name="portal_autopay"),
    path("portal/invoices/<int:invoice_id>/pay/", views_gateways.portal_pay, name="portal_pay"),
    path("settings/card-payments/", views_gateways.gateway_settings_view, name="gateway_settings"),
    path("settings/webhooks/", views_webhooks.webhooks, name="webhooks"),
    path(
        "settings/webhooks/<int:endpoint_id>/",
        views_webhooks.webhook_endpoint,
        name="webhook_endpoint",
    ),
    path(
        "settings/webhooks/<int:endpoint_id>/rotate/",
        views_webhooks.webhook_endpoint_rotate,
        name="webhook_endpoint_rotate",
    ),
    path(
        "settings/webhooks/<int:endpoint_id>/delete/",
        views_webhooks.webhook_endpoint_delete,
        name="webhook_endpoint_delete",
    ),
    path(
        "settings/webhooks/deliveries/<int:delivery_id>/replay/",
        views_webhooks.webhook_delivery_replay,
        name="webhook_delivery_replay",
    ),
    # Public: a pay link's signed token is the credential; the webhook is signed by Stripe.
    path("pay/<str:token>/", views_gateways.pay_page, name="pay"),
    path("pay/<str:token>/done/", views_gateways.pay_done, name="pay_done"),
    path(
        "pay/<str:token>/receipt/<int:payment_id>/",
        views_gateways.pay_receipt,
        name="pay_receipt",
    ),
    path(
        "gateways/stripe/<int:issuer_id>/webhook/",
        views_gateways.stripe_webhook,
        name="stripe_webhook",
    ),
    path(
        "portal/direct-debit/<int:mandate_id>/revoke/",
        views_sepa.portal_mandate_revoke,
        name="portal_mandate_revoke",
    ),
    path(
        "portal/services/<int:service_id>/usage/",
        views_portal.portal_service_usage,
        name="portal_service_usage",
    ),
    path(
        "portal/services/<int:service_id>/topup/",
        views_topups.portal_service_topup,
        name="portal_service_topup",
    ),
    path(
        "portal/services/<int:service_id>/change-plan/",
        views_plan_changes.portal_change_plan,
        name="portal_change_plan",
    ),
    path(
        "portal/plan-changes/<int:plan_change_id>/cancel/",
        views_plan_changes.portal_plan_change_cancel,
        name="portal_plan_change_cancel",
    ),
    # access (audit log, users, API tokens, view as partner)
    path("audit/", views_access.audit_log, name="audit_log"),
    path("users/", views_access.users, name="users"),
    path("users/new/", views_access.user_new, name="user_new"),
    path("users/<int:user_id>/", views_access.user_edit, name="user_edit"),
    path("users/<int:user_id>/toggle/", views_access.user_toggle, name="user_toggle"),
    path(
        "users/<int:user_id>/password-link/",
        views_access.user_password_link,
        name="user_password_link",
    ),
    path("account/password/", views_access.password_change, name="password_change"),
    path("account/tokens/", views_access.api_tokens, name="api_tokens"),
    path(
        "account/tokens/<int:token_id>/revoke/",
        views_access.api_token_revoke_view,
        name="api_token_revoke",
    ),
    path("access/view-as/", views_access.view_as_list, name="view_as_list"),
    path("access/view-as/stop/", views_access.view_as_stop, name="view_as_stop"),
    path("access/view-as/<int:partner_id>/", views_access.view_as_start, name="view_as_start"),
    # document templates and assets of the issuer
    path("settings/templates/", views_templates.document_templates, name="document_templates"),
    path(
        "settings/templates/assets/upload/",
        views_templates.issuer_asset_upload_view,
        name="issuer_asset_upload",
    ),
    path(
        "settings/templates/assets/delete/",
        views_templates.issuer_asset_delete_view,
        name="issuer_asset_delete",
    ),
    path(
        "settings/templates/edit/",
        views_templates.document_template_edit,
        name="document_template_edit",
    ),
    path(
        "settings/templates/preview/",
        views_templates.document_template_preview,
        name="document_template_preview",
    ),
]

# data in and out (ispbill/web/views_data.py)
urlpatterns += [
    path("data/customers/import/", views_data.customers_import_view, name="customers_import"),
    path("data/customers/template.csv", views_data.customers_template, name="customers_template"),
    path("data/payments/import/", views_data.payments_import_view, name="payments_import"),
    path("data/mandates/import/", views_sepa.mandates_import_view, name="mandates_import"),
    path("data/bank-lines/", views_data.bank_lines, name="bank_lines"),
    path(
        "data/bank-lines/<int:line_id>/assign/",
        views_data.bank_line_assign,
        name="bank_line_assign",
    ),
    path("data/exports/", views_data.exports_view, name="exports"),
    path("data/datev/", views_datev.datev_view, name="datev"),
    path("data/datev/settings/", views_datev.datev_settings_view, name="datev_settings"),
    path("data/reports/", views_data.reports_view, name="reports"),
    path("usage/top/", views_usage.usage_top_view, name="usage_top"),
]

# RADIUS (ispbill/web/views_radius.py)
urlpatterns += [
    path(
        "customers/<int:customer_id>/network/",
        views_radius.customer_sessions,
        name="radius_customer",
    ),
    path(
        "services/<int:service_id>/radius/",
        views_radius.service_credential,
        name="radius_service_credential",
    ),
    path("radius/", views_radius.nas_list, name="radius_nas_list"),
    path("radius/nas/<int:nas_id>/", views_radius.nas_edit, name="radius_nas_edit"),
    path("radius/nas/<int:nas_id>/delete/", views_radius.nas_remove, name="radius_nas_delete"),
    path("radius/policy/", views_radius.policy_edit, name="radius_policy"),
]
