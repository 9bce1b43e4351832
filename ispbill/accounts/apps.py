from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ispbill.accounts"
    label = "accounts"

    def ready(self) -> None:
        from ispbill.accounts import signals  # noqa: F401  (connects the audit receivers)
        from ispbill.accounts.log_redaction import install_record_factory

        install_record_factory()
