from django.urls import path

from . import views

urlpatterns = [
    path("sites/<int:site_id>/scan/", views.scan_now, name="scan_now"),
    path("sites/<int:site_id>/scan/progress/", views.scan_progress, name="scan_progress"),
    path("sites/<int:site_id>/scan/settings/", views.scan_settings, name="scan_settings"),
    path("sites/<int:site_id>/scan/<int:run_id>/cancel/", views.scan_cancel, name="scan_cancel"),
]
