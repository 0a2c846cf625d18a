from django.apps import AppConfig


class ScanningConfig(AppConfig):
    name = "allyproof.scanning"
    label = "scanning"
    verbose_name = "Scanner"

