"""Properties that must hold for every input, not just the examples we thought of (Hypothesis)."""
import base64
from urllib.parse import unquote, urlsplit

import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfa_core import totp
from mfa_core.errors import InvalidRequest
from mfa_core.policy import Policy, validate

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(st.text(), st.sampled_from([6, 8]))
def test_parse_code_yields_only_exactly_n_ascii_digits(raw, digits):
    code = totp.parse_code(raw, digits)
    if code is not None:
        assert len(code) == digits and set(code) <= set("0123456789")
        assert code == raw.replace(" ", "")  # nothing else was dropped or translated


@SETTINGS
@given(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=6), st.lists(st.integers(0, 6), max_size=4))
def test_ascii_spaces_anywhere_are_ignored(chars, spaces):
    code = "".join(chars)
    spaced = code
    for at in spaces:
        spaced = spaced[:at] + " " + spaced[at:]
    assert totp.parse_code(spaced, 6) == code


@SETTINGS
@given(json_values)
def test_the_policy_validator_accepts_or_refuses_cleanly(body):
    current = Policy.default("demo")
    if not isinstance(body, dict):
        body = {"two_factor": body}
    try:
        policy, version = validate(body, current)
    except InvalidRequest:
        return
    assert policy.two_factor in ("on", "off")
    assert set(policy.methods) <= {"authenticator", "phone"} and policy.methods
    assert 0 <= policy.trusted_device_days <= 365 and 0 <= policy.enroll_grace_days <= 90
    assert policy.totp.algorithm in ("SHA1", "SHA256", "SHA512") and policy.totp.digits in (6, 8)
    assert policy.totp.period in (30, 60) and 0 <= policy.totp.window <= 2
    assert 1 <= policy.lockout.max_failures <= 100 and 1 <= policy.lockout.lock_seconds <= 86400
    assert version is None or (isinstance(version, int) and version >= 0)


@SETTINGS
@given(
    st.text(min_size=1, max_size=40).filter(lambda s: s.strip()),
    st.text(min_size=1, max_size=40).filter(lambda s: s.strip()),
    st.sampled_from(["SHA1", "SHA256", "SHA512"]),
    st.sampled_from([6, 8]),
    st.sampled_from([30, 60]),
)
def test_otpauth_uri_parses_back_to_what_was_put_in(account, issuer, algorithm, digits, period):
    secret = totp.new_secret()
    uri = totp.otpauth_uri(secret, account=account, issuer=issuer, algorithm=algorithm, digits=digits, period=period)
    assert uri.isascii() and " " not in uri
    parts = urlsplit(uri)
    label_issuer, sep, label_account = parts.path[1:].partition(":")
    assert sep and unquote(label_issuer) == issuer and unquote(label_account) == account
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret and parsed.issuer == issuer and parsed.digits == digits
    assert parsed.interval == period and parsed.digest().name == algorithm.lower()


@SETTINGS
@given(st.binary(min_size=20, max_size=20), st.integers(0, 2**34), st.integers(-4, 4), st.integers(0, 2),
       st.sampled_from(["SHA1", "SHA256", "SHA512"]), st.sampled_from([6, 8]), st.sampled_from([30, 60]))
def test_match_accepts_inside_the_window_and_never_outside(key, now, offset, window, algorithm, digits, period):
    secret = base64.b32encode(key).decode().rstrip("=")
    current = totp.step_at(now, period)
    step = current + offset
    if step < 0:
        return
    code = totp.code_at(secret, step, algorithm=algorithm, digits=digits)
    got = totp.match(secret, code, now=now, algorithm=algorithm, digits=digits, period=period, window=window)
    if abs(offset) <= window:
        # Another step inside the window may share the code (10**digits values): then it is that step.
        assert got is not None and abs(got - current) <= window
        assert totp.code_at(secret, got, algorithm=algorithm, digits=digits) == code
    else:
        assert got is None or abs(got - current) <= window  # only a colliding code inside the window


@SETTINGS
@given(st.binary(min_size=20, max_size=20), st.integers(0, 2**34), st.integers(0, 2), st.integers(-3, 3))
def test_match_never_accepts_a_step_at_or_before_the_last_accepted(key, now, window, last_offset):
    secret = base64.b32encode(key).decode().rstrip("=")
    current = totp.step_at(now, 30)
    last = current + last_offset
    for step in range(max(0, current - window), current + window + 1):
        code = totp.code_at(secret, step, algorithm="SHA1", digits=6)
        got = totp.match(secret, code, now=now, algorithm="SHA1", digits=6, period=30, window=window, after_step=last)
        assert got is None or got > last


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(json_values)
def test_any_json_value_as_a_code_is_refused_cleanly(api_once, value):
    """Through the HTTP contract: a non-string is invalid_request, a string that is not today's code is
    invalid_code; never a success, never a 5xx. (The user is unlocked before each example.)"""
    api, _ = api_once
    api.as_user("POST", "/v1/admin/users/alice%40example.com/unlock", {}, user="admin@example.com",
                scope="mfa:admin")
    r = api.as_user("POST", "/v1/logon/verify", {"code": value}, scope="mfa:logon")
    expected = "invalid_code" if isinstance(value, str) else "invalid_request"
    assert r.status_code == 400 and r.json["error"] == expected, (value, r.json)


@pytest.fixture
def api_once(api):
    from tests.conftest import attach

    return api, attach(api)
