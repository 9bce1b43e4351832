from django.apps import AppConfig


class DataioConfig(AppConfig):
    name = "ispbill.dataio"
    label = "dataio"
    verbose_name = "Imports, exports and reports"
