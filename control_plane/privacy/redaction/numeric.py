"""Recognizers for digit-shaped PII on the normalised text: phones, cards, SSNs, accounts, IPs.

One pass finds every digit sequence (groups joined by spaces, dashes, dots, commas or
slashes) and classifies it by digit count, grouping and the nearest context keyword. Any
run of 13-19 digits is a card whatever the checksum says: a card read together with its
expiry or CVV fails Luhn and would otherwise leak (peers-and-standards §4).

Spoken numbers are rarely said in one breath (issue 15): groups may be separated by a
pause ("..."), fillers ("uh", "you know", "hold on"), a self-correction ("five five five no
sorry five five six", "scratch that", "i mean") or followed by an extension ("extension",
"ext", "x"). Such gaps join the groups into one run, and the whole run, every attempt
included, is one finding. It is classified as said after the correction: the digits of
the attempt that was taken back (as many as the replacement group has) and any extension
are left out of the count, so a corrected phone number is still a phone number.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from presidio_analyzer.nlp_engine import NlpArtifacts

from control_plane.privacy.redaction.recognizer import (
    Context,
    Finding,
    SpanRecognizer,
    nearest_context,
)
from control_plane.privacy.redaction.types import EntityType

_CORRECTION = (
    r"no[ \t]+sorry|sorry[ \t]+i[ \t]+meant|sorry[ \t]+i[ \t]+mean|sorry|no[ \t]+wait|wait[ \t]+no|"
    r"scratch[ \t]+that|i[ \t]+mean|i[ \t]+meant|actually|let[ \t]+me[ \t]+correct[ \t]+that|no"
)
_FILLER = r"uh|um|uhm|er|erm|hmm|like|you[ \t]+know|hold[ \t]+on|let[ \t]+me[ \t]+see|okay|and|then"
_EXTENSION = r"extension|ext|x"
_GAP = (
    rf"(?:[ \t]*(?:\.\.\.|…|,|-|--)?[ \t]+(?:(?P<corr>(?i:{_CORRECTION}))"
    rf"|(?P<ext>(?i:{_EXTENSION}))|(?i:{_FILLER}))[ \t]*[,.]{{0,3}}[ \t]*)+"
)
_SEQUENCE = re.compile(
    r"(?<![A-Za-z0-9.])(?P<plus>\+[ \t]?)?\(?\d+\)?"
    rf"(?:(?:{_GAP}|[ \t]*(?:\.\.\.|…)[ \t]*|[ \t]*[-.,/][ \t]*|[ \t]+)\(?\d+\)?)*(?![A-Za-z0-9])"
)
_GAP_WORD = re.compile(
    rf"(?<![A-Za-z])(?:(?P<corr>{_CORRECTION})|(?P<ext>{_EXTENSION}))(?![A-Za-z])", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")
_COUNTRY_CODE = re.compile(r"(?i)country[ \t]+code[ \t]*$")
_YEAR = re.compile(r"(?:19|20)\d\d")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\.?\d)")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:|:){2,7}(?:[0-9A-Fa-f]{1,4}|:)(?![\w:])")
_IBAN_START = re.compile(r"\b([A-Z])[ \t]?([A-Z])[ \t]?(\d)[ \t]?(\d)(?=[ \t,.-]{0,2}[A-Z0-9])")
_IBAN_BODY = re.compile(r"[ \t,.-]{0,2}([A-Z0-9])")
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Whether a compact IBAN passes the ISO 13616 mod-97 check."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def classify_digits(
    digits: str, groups: list[int], ctx: Context, *, plus: bool
) -> tuple[EntityType, float] | None:
    """Decide what a digit sequence is from its length, grouping and nearest keyword."""
    n = len(digits)
    cat = ctx.category
    if cat == "iban":
        return None
    if n >= 13:
        if cat == "bank" and n <= 17:
            return EntityType.BANK_ACCOUNT, 0.9
        if n <= 19 or cat == "card":
            return EntityType.CREDIT_CARD, 0.95 if luhn_valid(digits) else 0.85
        return None if cat == "negative" else (EntityType.CREDIT_CARD, 0.5)
    if cat == "negative":
        return None
    if plus and 8 <= n <= 15:
        return EntityType.PHONE_NUMBER, 0.85
    # The grouping a speaker uses is stronger evidence than a keyword further back
    # ("the social on the account is 531, 22, 0914").
    if groups in ([3, 3, 4], [1, 3, 3, 4]):
        return EntityType.PHONE_NUMBER, 0.9
    if groups == [3, 2, 4]:
        return EntityType.US_SSN, 0.9
    if cat == "bank" and n >= 6:
        return EntityType.BANK_ACCOUNT, 0.9
    if cat == "ssn" and n == 9:
        return EntityType.US_SSN, 0.95
    if cat == "dob" and 4 <= n <= 8 and not (n == 4 and _YEAR.fullmatch(digits)):
        return EntityType.DATE_OF_BIRTH, 0.85
    if n == 9:
        return EntityType.US_SSN, 0.85 if groups == [3, 2, 4] else 0.5
    if n in (10, 11):
        return EntityType.PHONE_NUMBER, 0.85
    if n == 7 and (cat == "phone" or groups == [3, 4]):
        return EntityType.PHONE_NUMBER, 0.7
    if n == 12 and cat == "phone":
        return EntityType.PHONE_NUMBER, 0.7
    return None


class DigitSequenceRecognizer(SpanRecognizer):
    """Phones, cards, SSNs, bank accounts and numeric dates of birth from digit runs."""

    ENTITY_TYPES = (
        EntityType.PHONE_NUMBER,
        EntityType.CREDIT_CARD,
        EntityType.US_SSN,
        EntityType.BANK_ACCOUNT,
        EntityType.DATE_OF_BIRTH,
    )

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield one finding per classified digit sequence."""
        for match in _SEQUENCE.finditer(text):
            groups = _said_groups(match.group())
            digits = "".join(groups)
            ctx = nearest_context(text, match.start())
            if _COUNTRY_CODE.search(text, max(0, match.start() - 16), match.start()):
                ctx = Context("phone", 0)  # "code" alone is a negative keyword
            plus = match.group("plus") is not None
            got = classify_digits(digits, [len(g) for g in groups], ctx, plus=plus)
            if got is None and (len(groups) > 1 or _GAP_WORD.search(match.group())):
                # A correction whose attempt boundary the normaliser merged away: redact on
                # what was said in full rather than let any attempt through.
                said = _DIGITS.findall(match.group())
                got = classify_digits("".join(said), [len(g) for g in said], ctx, plus=plus)
            if got is None:
                continue
            start, end = match.span()
            if text[start] == "(" and ")" not in text[start:end]:
                start += 1
            if text[end - 1] == ")" and "(" not in text[start:end]:
                end -= 1
            yield Finding(got[0], start, end, got[1])


def _said_groups(run: str) -> list[str]:
    """The digit groups of a run as finally meant: taken-back attempts and extensions out."""
    groups: list[str] = []
    pos = 0
    pending_correction = False
    for marker in [*_GAP_WORD.finditer(run), None]:
        chunk = run[pos : marker.start() if marker else len(run)]
        found = _DIGITS.findall(chunk)
        if pending_correction and found and groups:
            last = groups.pop()  # the attempt taken back; a longer group keeps its head
            if len(last) > len(found[0]):
                groups.append(last[: len(last) - len(found[0])])
        groups += found
        pending_correction = False
        if marker is None:
            break
        if marker.group("ext"):
            return groups
        pending_correction = marker.group("corr") is not None
        pos = marker.end()
    return groups


class IpAddressRecognizer(SpanRecognizer):
    """IPv4 (also spoken: "ten dot zero dot zero dot one") and IPv6 addresses."""

    ENTITY_TYPES = (EntityType.IP_ADDRESS,)

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield validated IPv4 and IPv6 literals."""
        for match in _IPV4.finditer(text):
            yield Finding(EntityType.IP_ADDRESS, match.start(), match.end(), 0.95)
        if ":" not in text:
            return
        for match in _IPV6.finditer(text):
            try:
                ipaddress.IPv6Address(match.group())
            except ValueError:
                continue
            yield Finding(EntityType.IP_ADDRESS, match.start(), match.end(), 0.95)


class IbanRecognizer(SpanRecognizer):
    """IBANs written compactly, in groups or with spelled letters, checked by length + mod 97."""

    ENTITY_TYPES = (EntityType.IBAN,)

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield IBANs whose country length fits and whose checksum holds (or "IBAN" is said)."""
        for match in _IBAN_START.finditer(text):
            country = match.group(1) + match.group(2)
            length = _IBAN_LENGTHS.get(country)
            if length is None:
                continue
            chars = [country, match.group(3), match.group(4)]
            pos = match.end()
            while len(chars) < length - 1:
                body = _IBAN_BODY.match(text, pos)
                if body is None:
                    break
                chars.append(body.group(1))
                pos = body.end()
            compact = "".join(chars)
            if len(compact) != length:
                continue
            if iban_valid(compact):
                yield Finding(EntityType.IBAN, match.start(), pos, 0.95)
            elif nearest_context(text, match.start(), window=40).category == "iban":
                yield Finding(EntityType.IBAN, match.start(), pos, 0.6)
