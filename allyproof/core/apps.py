from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "allyproof.core"
    label = "core"

    def ready(self):
        from . import log_scrub

        log_scrub.install()
