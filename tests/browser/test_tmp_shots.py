import tests.browser.test_jira_push_browser as m
from tests.browser.test_jira_push_browser import *  # noqa

_n = [0]
_orig = m.assert_no_axe_violations


def _shot(page, *a, **k):
    _n[0] += 1
    import os
    name = os.environ.get("PYTEST_CURRENT_TEST", "x").split("::")[1].split(" ")[0][:30]
    page.screenshot(path=f"/tmp/jb/{_n[0]:02d}-{name}.png", full_page=True)
    _orig(page, *a, **k)


m.assert_no_axe_violations = _shot
