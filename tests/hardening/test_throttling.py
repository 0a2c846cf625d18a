"""Issue 13, case 1: brute force against the product's and the admin's sign-in is throttled."""

import datetime as dt
import logging

import pytest

from allyproof.core import clock
from tests import factories

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
LOCKED = "Too many failed sign-ins from your network"


def sign_in(client, path, email, password, ip="203.0.113.7"):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_thirty_wrong_passwords_then_the_right_one_is_refused_until_the_cool_off_ends(client, owner, path, caplog):
    if path.startswith("/admin"):
        owner.is_staff = owner.is_superuser = True
        owner.save(update_fields=["is_staff", "is_superuser"])
    caplog.set_level(logging.WARNING)
    with clock.frozen(T0):
        answers = [sign_in(client, path, owner.email, f"wrong-{n}") for n in range(30)]
        assert answers[0].status_code == 200 and answers[-1].status_code == 429
        right = sign_in(client, path, owner.email, factories.PASSWORD)
    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert not signed_in(client)
    assert any("Locking out" in r.getMessage() and owner.email in r.getMessage() for r in caplog.records)

    with clock.frozen(T0 + dt.timedelta(minutes=14)):
        assert sign_in(client, path, owner.email, factories.PASSWORD).status_code == 429
    # Failures during a lockout restart the cool-off (axes' default): 14 + 15 minutes later it is over.
    with clock.frozen(T0 + dt.timedelta(minutes=14 + 15, seconds=1)):
        assert sign_in(client, path, owner.email, factories.PASSWORD).status_code == 302
    assert signed_in(client)


def test_one_address_guessing_many_accounts_is_locked_out_for_every_account(client, org, owner):
    with clock.frozen(T0):
        for n in range(10):
            sign_in(client, "/accounts/login/", f"nobody{n}@example.test", "guess")
        refused = sign_in(client, "/accounts/login/", owner.email, factories.PASSWORD)
        # Another address is not held back by this one's failures.
        elsewhere = sign_in(client, "/accounts/login/", owner.email, factories.PASSWORD, ip="198.51.100.9")
    assert refused.status_code == 429 and LOCKED in refused.content.decode()
    assert elsewhere.status_code == 302


def test_a_few_mistakes_do_not_lock_anyone_out(client, owner):
    with clock.frozen(T0):
        for n in range(9):
            assert sign_in(client, "/accounts/login/", owner.email, f"typo-{n}").status_code == 200
        assert sign_in(client, "/accounts/login/", owner.email, factories.PASSWORD).status_code == 302


def test_a_forged_forwarded_for_header_does_not_buy_a_fresh_address(client, owner):
    with clock.frozen(T0):
        for n in range(10):
            client.post("/accounts/login/", {"username": owner.email, "password": "x"},
                        REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        refused = client.post("/accounts/login/", {"username": owner.email, "password": factories.PASSWORD},
                              REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="10.0.1.1")
    assert refused.status_code == 429


def test_signing_in_without_a_request_is_not_refused_by_the_throttle(client, owner):
    assert client.login(username=owner.email, password=factories.PASSWORD)  # the test client's own path
