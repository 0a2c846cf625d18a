"""The declared wiring (allyproof.core.plugs): what it names exists, and no app overrides another's template."""

from pathlib import Path

from django.apps import apps
from django.conf import settings

from allyproof.accounts.support import Provider  # noqa: F401  (the shape SUPPORT_DIAGNOSTICS names)
from allyproof.core import plugs
from allyproof.core.health import ProductCheck
from allyproof.monitoring.table_columns import Column

POINTS = {name: value for name, value in vars(plugs).items() if name.isupper() and isinstance(value, tuple)}


def test_every_hook_point_names_objects_of_its_kind():
    assert set(POINTS) == {"SITE_PANELS", "SCAN_PANELS", "VIOLATION_ACTIONS", "VIOLATION_PANELS",
                           "SITE_TABLE_COLUMNS", "SUPPORT_DIAGNOSTICS", "SCAN_COMPLETED", "VIOLATIONS_FIXED",
                           "HEALTH_CHECKS"}
    for name, point in POINTS.items():
        found = plugs.plugged(point)
        assert len(found) == len(point), name  # every app named here is installed
        for thing in found:
            if name.endswith(("PANELS", "ACTIONS")):
                assert isinstance(thing, plugs.Panel), (name, thing)
            elif name == "SITE_TABLE_COLUMNS":
                assert isinstance(thing, Column)
            elif name == "HEALTH_CHECKS":
                assert issubclass(thing, ProductCheck) and thing.name, (name, thing)
            else:
                assert callable(thing), (name, thing)


def test_an_entry_of_an_app_that_is_not_installed_is_left_out():
    assert plugs.plugged(("allyproof.core.plugs.Panel", "allyproof.billing.panels.SITE_BLOCK")) == (plugs.Panel,)


def test_no_template_is_defined_twice():
    # With APP_DIRS, a template of one app silently replaces another's of the same name, decided by the
    # order of INSTALLED_APPS. Integrations add blocks through plugs instead.
    folders = [Path(d) for engine in settings.TEMPLATES for d in engine.get("DIRS", [])]
    folders += [Path(app.path) / "templates" for app in apps.get_app_configs()]
    seen: dict[str, Path] = {}
    for folder in (f for f in folders if f.is_dir()):
        for template in folder.rglob("*.html"):
            name = template.relative_to(folder).as_posix()
            assert name not in seen, f"{name} is in {seen[name]} and {folder}"
            seen[name] = folder
    assert "monitoring/site_detail.html" in seen and "jira/_site_slot.html" in seen
