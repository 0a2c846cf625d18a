import pytest

from allyproof.scanning.policy import AddressPolicy
from allyproof.scanning.runner import Overrides
from tests.support.browser import require_browser

pytestmark = pytest.mark.browser


@pytest.fixture
def overrides():
    """Loopback allowed (the test sites), everything else refused; fast timeouts for the slow page."""
    return Overrides(policy=AddressPolicy(allow_loopback=True), executable=require_browser(), concurrency=2,
                     extra={"page_timeout_s": 4.0, "idle_timeout_s": 0.5})
