from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "ispbill.catalog"
    label = "catalog"
