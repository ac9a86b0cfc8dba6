"""Recognizers for word-shaped PII: e-mail addresses, street addresses and dates of birth.

All run on the normalised text, so "twelve thirty four Elm Street" arrives as
"1234 Elm Street" and "March twenty third nineteen eighty five" as "March 23rd 1985".
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from presidio_analyzer.nlp_engine import NlpArtifacts

from control_plane.privacy.redaction.recognizer import (
    Finding,
    SpanRecognizer,
    nearest_context,
    wordset,
)
from control_plane.privacy.redaction.types import EntityType

_TLD = r"com|net|org|edu|gov|mil|io|co|us|uk|ca|de|fr|es|it|nl|au|in|info|biz|me|ai|app|dev|tv|ly"
_WRITTEN_EMAIL = re.compile(
    r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
# " at gmail dot com", " at g mail dot com", " at company dot co dot uk", " at acme.com"
SPOKEN_DOMAIN = re.compile(
    rf"(?i)[ \t]+at[ \t]+[a-z0-9][a-z0-9-]*(?:[ \t][a-z0-9][a-z0-9-]*)?"
    rf"(?:(?:[ \t]+dot[ \t]+|\.)[a-z0-9][a-z0-9-]*)*(?:[ \t]+dot[ \t]+|\.)(?:{_TLD})\b"
    r"(?:(?:[ \t]+dot[ \t]+|\.)[a-z]{2}\b)?"  # a country code after it: "com dot mx"
)
_LOCAL_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9']*|[._-]")
_LOCAL_SEPARATORS = frozenset({".", "_", "-", "dot", "period", "underscore", "dash", "hyphen"})
# Words that end a spoken local part when joined to it by a plain space.
_LOCAL_STOP = wordset(
    """a an and or the is it it's its that's that this me my mine our your his her him their
    email e-mail mail address addresses send sent to at is was be please also personal one
    work office home new old second first other just here there of for from use uses
    try you can could i i'm im we he she they yes yeah sure okay ok so um uh like"""
)
_MAX_PLAIN_JOINS = 2

_STREET_SUFFIX = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|circle|cir|parkway|pkwy|highway|hwy|trail|trl|square|sq|loop|row|path|pike|"
    r"alley|crescent|close|plaza|expressway|turnpike|walk"
)
_NAME_STOP = (
    r"the|a|an|and|or|of|to|in|on|at|by|for|from|with|about|into|onto|my|your|his|her|our|"
    r"their|is|are|was|were|be|it|its|this|that|these|those|i|you|he|she|we|they|me|past|"
    r"down|up|near|off|over|under|along|across|around|through|behind|toward|towards|"
    r"minutes?|miles?|blocks?|hours?|days?|weeks?|times?|dollars?|percent|units?|people|"
    r"items?|doors?|houses?|exits?|stops?|lights?"
)
_NAME_WORD = rf"(?!(?i:{_NAME_STOP})\b)(?:[A-Za-z][A-Za-z'.-]*|\d{{1,3}}(?i:st|nd|rd|th))"
_UNIT = (
    r"(?:,?[ \t]+(?i:apt|apartment|unit|suite|ste|number|no|floor|fl)\.?[ \t]*#?[ \t]*"
    r"(?:\d+(?:[ \t]?[A-Za-z]\b)?|[A-Z]\d*\b)|,?[ \t]*#[ \t]*\d+[A-Za-z]?)"
)
_ADDRESS = re.compile(
    rf"(?<![\w.,-])\d{{1,6}}[A-Za-z]?\b[ \t]+"
    rf"(?:(?:{_NAME_WORD})[ \t]+){{1,4}}?(?i:{_STREET_SUFFIX})\b\.?{_UNIT}?"
    rf"|(?<![\w.,-])\d{{1,6}}[ \t]+(?i:(?:north|south|east|west)[ \t]+)?(?i:broadway)\b{_UNIT}?"
)

_MONTH = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAY = r"(?:\d{1,2}(?:st|nd|rd|th)?|first|second)"
_YEAR = r"(?:,?[ \t]+(?:of[ \t]+)?(?:\d{4}|\d{2})\b)"
_DATE_WORDS = re.compile(
    rf"(?i)\b(?:(?:{_MONTH})\.?[ \t]+(?:the[ \t]+)?{_DAY}\b{_YEAR}?"
    rf"|(?:the[ \t]+)?{_DAY}[ \t]+of[ \t]+(?:{_MONTH})\b{_YEAR}?)"
)
_DATE_NUMERIC = re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b")


def _is_local_stop(token: str) -> bool:
    """Common words and contractions ("it's", "email's") cannot be part of a local part."""
    return token.lower() in _LOCAL_STOP or "'" in token


def _local_part_start(text: str, end: int) -> int | None:
    """Walk back from " at ..." over the local part of a spoken address; None if empty."""
    tokens = list(_LOCAL_TOKEN.finditer(text, max(0, end - 80), end))
    if not tokens or tokens[-1].end() != end or _is_local_stop(tokens[-1].group()):
        return None
    start = tokens[-1].start()
    plain_joins = 0
    i = len(tokens) - 1
    while i > 0:
        cur, prev = tokens[i], tokens[i - 1]
        gap = text[prev.end() : cur.start()]
        if gap.strip(" \t"):
            break
        cur_sep = cur.group().lower() in _LOCAL_SEPARATORS
        prev_sep = prev.group().lower() in _LOCAL_SEPARATORS
        if cur_sep or prev_sep:
            if cur_sep and prev_sep:
                break
        elif not gap or _is_local_stop(prev.group()) or plain_joins >= _MAX_PLAIN_JOINS:
            break
        elif len(prev.group()) > 1 or len(cur.group()) > 1:
            plain_joins += 1  # single letters/digits are spelled out and do not count
        start = prev.start()
        i -= 1
    if text[start:end].lower().split()[0] in _LOCAL_SEPARATORS:
        return None
    return start


class EmailRecognizer(SpanRecognizer):
    """E-mail addresses written ("a.b@c.com") or spoken ("a dot b at c dot com")."""

    ENTITY_TYPES = (EntityType.EMAIL_ADDRESS,)

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield written addresses, then spoken ones anchored on " at <domain> dot <tld>"."""
        for match in _WRITTEN_EMAIL.finditer(text):
            yield Finding(EntityType.EMAIL_ADDRESS, match.start(), match.end(), 0.95)
        for match in SPOKEN_DOMAIN.finditer(text):
            start = _local_part_start(text, match.start())
            if start is not None:
                yield Finding(EntityType.EMAIL_ADDRESS, start, match.end(), 0.9)


class StreetAddressRecognizer(SpanRecognizer):
    """House number, street name, suffix and optional unit ("1234 Oak Avenue Apt 5")."""

    ENTITY_TYPES = (EntityType.STREET_ADDRESS,)

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield street addresses; the street suffix is required, so "order 4471" is not one."""
        for match in _ADDRESS.finditer(text):
            yield Finding(EntityType.STREET_ADDRESS, match.start(), match.end(), 0.85)


class DateOfBirthRecognizer(SpanRecognizer):
    """Dates that follow a birth keyword ("born on", "date of birth", "DOB", "birthday")."""

    ENTITY_TYPES = (EntityType.DATE_OF_BIRTH,)

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield month-name and slashed dates whose nearest keyword is a birth keyword."""
        for pattern in (_DATE_WORDS, _DATE_NUMERIC):
            for match in pattern.finditer(text):
                ctx = nearest_context(text, match.start(), window=50)
                if ctx.category == "dob":
                    yield Finding(EntityType.DATE_OF_BIRTH, match.start(), match.end(), 0.9)
