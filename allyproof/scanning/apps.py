from django.apps import AppConfig


class ScanningConfig(AppConfig):
    name = "allyproof.scanning"
    label = "scanning"
    verbose_name = "Scanner"

    def ready(self) -> None:
        from allyproof.monitoring import site_panels

        from . import panel

        site_panels.register(site_panels.Panel(name="scanner", template="scanning/_site_panel.html",
                                               context=panel.site_panel_context))
        site_panels.register(site_panels.Panel(name="scanner", template="scanning/_scan_pages.html",
                                               context=panel.scan_panel_context, page="scan"))
