"""Recovery codes: renewed with a fresh code, and never usable by another user."""

from tests.conftest import attach, code_for
from tests.helpers_logon import LOGON, verify


def test_renewed_recovery_codes_replace_the_old_ones(api):
    att = attach(api)
    api.clock.advance(30)
    r = api.as_user("POST", "/v1/recovery-codes", {"code": code_for(att["uri"], api.clock.now)})
    assert r.status_code == 200 and len(r.json["recovery_codes"]) == 10
    assert r.headers["Cache-Control"] == "no-store"
    assert verify(api, att["recovery_codes"][0], method="recovery_code").status_code == 400
    assert verify(api, r.json["recovery_codes"][0], method="recovery_code").status_code == 200
    assert api.as_user("GET", "/v1/factors").json["recovery_codes_left"] == 9


def test_renewal_needs_a_fresh_code_that_counts_toward_the_lock(api):
    att = attach(api)
    r = api.as_user("POST", "/v1/recovery-codes", {"code": code_for(att["uri"], api.clock.now)})  # confirm's code
    assert r.status_code == 400 and r.json["attempts_left"] == 4
    assert api.as_user("POST", "/v1/recovery-codes", {"code": 123456}).status_code == 400
    assert api.as_user("POST", "/v1/recovery-codes", {"code": "123456"}, scope=LOGON).status_code == 403


def test_recovery_codes_are_not_usable_by_another_user(api):
    alice = attach(api)
    attach(api, user="bob@example.com")
    r = verify(api, alice["recovery_codes"][0], user="bob@example.com", method="recovery_code")
    assert r.status_code == 400
