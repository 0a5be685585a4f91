"""TOTP math and formats: RFC 6238 vectors, code parsing, the otpauth Key URI, secrets."""

import base64
import hashlib
import hmac
import struct
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from mfa_core import totp

SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
# RFC 6238 Appendix B: time -> 8-digit TOTP for SHA1, SHA256, SHA512 (30 s steps).
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


def b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode().rstrip("=")


def reference_hotp(key: bytes, counter: int, digits: int, digest) -> str:
    """RFC 4226 section 5.3, written out independently of pyotp."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


@pytest.mark.parametrize("t, sha1, sha256, sha512", RFC6238)
def test_rfc6238_appendix_b_vectors(t, sha1, sha256, sha512):
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        step = totp.step_at(t, 30)
        assert totp.code_at(b32(SEEDS[algorithm]), step, algorithm=algorithm, digits=8) == expected
        code = expected
        assert (
            totp.match(b32(SEEDS[algorithm]), code, now=t, algorithm=algorithm, digits=8, period=30, window=0) == step
        )


def test_time_beyond_2_to_the_32_uses_the_full_64_bit_counter():
    t = 20000000000
    assert t > 2**32
    assert totp.step_at(t, 30) == 666666666
    assert totp.code_at(b32(SEEDS["SHA1"]), 666666666, algorithm="SHA1", digits=8) == "65353130"


@pytest.mark.parametrize(
    "algorithm, digest", [("SHA1", hashlib.sha1), ("SHA256", hashlib.sha256), ("SHA512", hashlib.sha512)]
)
@pytest.mark.parametrize("digits", [6, 8])
@pytest.mark.parametrize("period", [30, 60])
def test_codes_agree_with_an_independent_rfc4226_implementation(algorithm, digest, digits, period):
    secret = totp.new_secret()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    for now in (0, 59, 1_700_000_000, 1_800_000_017, 20_000_000_000):
        step = totp.step_at(now, period)
        assert totp.code_at(secret, step, algorithm=algorithm, digits=digits) == reference_hotp(
            key, step, digits, digest
        )


def test_match_returns_the_step_inside_the_window_and_nothing_outside():
    secret = totp.new_secret()
    now = 1_800_000_000
    current = totp.step_at(now, 30)
    for offset in range(-3, 4):
        code = totp.code_at(secret, current + offset, algorithm="SHA1", digits=6)
        for window in (0, 1, 2):
            got = totp.match(secret, code, now=now, algorithm="SHA1", digits=6, period=30, window=window)
            if abs(offset) <= window:
                assert got == current + offset
            else:
                assert got is None


def test_match_refuses_steps_at_or_before_the_last_accepted_one():
    secret = totp.new_secret()
    now = 1_800_000_000
    current = totp.step_at(now, 30)
    code = totp.code_at(secret, current, algorithm="SHA1", digits=6)
    assert (
        totp.match(secret, code, now=now, algorithm="SHA1", digits=6, period=30, window=1, after_step=current) is None
    )
    assert (
        totp.match(secret, code, now=now, algorithm="SHA1", digits=6, period=30, window=1, after_step=current - 1)
        == current
    )
    earlier = totp.code_at(secret, current - 1, algorithm="SHA1", digits=6)
    assert (
        totp.match(secret, earlier, now=now, algorithm="SHA1", digits=6, period=30, window=1, after_step=current)
        is None
    )


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("123456", "123456"),
        ("123 456", "123456"),
        (" 1 2 3 4 5 6 ", "123456"),
        ("12345", None),
        ("1234567", None),
        ("12345a", None),
        ("123\t456", None),
        ("123\u00a0456", None),  # a no-break space is not an ASCII space
        ("١٢٣٤٥٦", None),  # Arabic-Indic digits
        ("１２３４５６", None),  # full-width digits
        ("", None),
        ("+12345", None),
        ("-12345", None),
    ],
)
def test_parse_code_accepts_only_ascii_digits_after_removing_ascii_spaces(raw, expected):
    assert totp.parse_code(raw, 6) == expected


def test_parse_code_respects_eight_digits():
    assert totp.parse_code("1234 5678", 8) == "12345678"
    assert totp.parse_code("123456", 8) is None


def test_new_secret_is_160_random_bits_in_unpadded_base32():
    secrets_seen = {totp.new_secret() for _ in range(50)}
    assert len(secrets_seen) == 50
    for secret in secrets_seen:
        assert len(secret) == 32 and "=" not in secret
        assert len(base64.b32decode(secret)) == 20


def test_grouped_secret_is_blocks_of_four():
    assert totp.grouped("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567"


def test_otpauth_uri_follows_the_key_uri_format():
    secret = totp.new_secret()
    uri = totp.otpauth_uri(
        secret, account="alice@example.com", issuer="Example Mail", algorithm="sha256", digits=8, period=60
    )
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert parts.path == "/Example%20Mail:alice%40example.com"
    query = parse_qs(parts.query)
    assert query == {
        "secret": [secret],
        "issuer": ["Example Mail"],
        "algorithm": ["SHA256"],
        "digits": ["8"],
        "period": ["60"],
    }
    assert "=" not in query["secret"][0]
    assert "+" not in uri and " " not in uri


@pytest.mark.parametrize(
    "account, issuer",
    [
        ("alice@example.com", "Example Mail"),
        ("bob:smith@example.com", "ACME: Mail"),
        ("张伟@例子.中国", "阿里邮箱"),
        ("a b&c=d?e#f@x.y", "x&y=z"),
    ],
)
def test_otpauth_uri_parses_back_to_the_same_values(account, issuer):
    secret = totp.new_secret()
    uri = totp.otpauth_uri(secret, account=account, issuer=issuer, algorithm="SHA1", digits=6, period=30)
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret
    assert parsed.issuer == issuer
    assert parsed.name == account
    label_issuer, _, label_account = urlsplit(uri).path[1:].partition(":")  # the one literal ":" separates
    assert (unquote(label_issuer), unquote(label_account)) == (issuer, account)
