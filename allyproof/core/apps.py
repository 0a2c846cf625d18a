from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "allyproof.core"
    label = "core"
