"""Secure phone numbers: the form we accept (E.164), their country calling code, how we show them (masked),
and the SMS text."""

from __future__ import annotations

import re

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
CALLING_CODE = re.compile(r"\+[1-9][0-9]{0,2}")
# E.164's country calling codes are a prefix code by world zone: 1 (North America) and 7 (Russia, Kazakhstan)
# are whole codes, these two-digit ones are, and every other code is three digits (+852, +880, +971...).
TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66"
    " 81 82 84 86 90 91 92 93 94 95 98".split()
)


def is_e164(number: str) -> bool:
    return E164.fullmatch(number) is not None


def calling_code(number: str) -> str:
    """+8613800001234 -> "+86", +12025550123 -> "+1", +85291234567 -> "+852"."""
    digits = number[1:]
    length = 1 if digits[0] in "17" else 2 if digits[:2] in TWO_DIGIT_CODES else 3
    return "+" + digits[:length]


def is_calling_code(code: str) -> bool:
    """Whether `code` is a whole country calling code ("+86"; not "+8", "+861" or "+12")."""
    return CALLING_CODE.fullmatch(code) is not None and calling_code(code + "000") == code


def mask(number: str) -> str:
    """+8613800001234 -> +86*******1234: enough to recognise one's own phone, not to call it."""
    digits = number[1:]
    return "+" + digits[:2] + "*" * (len(digits) - 6) + digits[-4:]


def sms_text(code: str, minutes: int) -> str:
    return f"Your verification code is {code}. It expires in {minutes} minutes. 验证码 {code}，{minutes} 分钟内有效。"
