"""Secure phone numbers: the form we accept (E.164), how we show them (masked), and the SMS text."""

from __future__ import annotations

import re

E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(number: str) -> bool:
    return E164.fullmatch(number) is not None


def mask(number: str) -> str:
    """+8613800001234 -> +86*******1234: enough to recognise one's own phone, not to call it."""
    digits = number[1:]
    return "+" + digits[:2] + "*" * (len(digits) - 6) + digits[-4:]


def sms_text(code: str, minutes: int) -> str:
    return f"Your verification code is {code}. It expires in {minutes} minutes. 验证码 {code}，{minutes} 分钟内有效。"
