from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "allyproof.monitoring"
    label = "monitoring"
