"""PERSON: spaCy NER filtered for place and business names, plus spoken-name context patterns.

The small English model both misses names in conversational speech ("this is Tanya
speaking" comes back as a place) and calls streets and shops people ("Martin Luther King
Jr. Boulevard", "Greenleaf Florists"). So NER spans are filtered by the words around them,
and names are also taken from how callers introduce themselves ("my name is", "this is",
"first name", "Hi <name>,"), from spelled-out letters and, for uncased transcripts only, from
a lowercase word after an introduction that is not a common English word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from control_plane.privacy.redaction.recognizer import Finding, SpanRecognizer, wordset
from control_plane.privacy.redaction.types import EntityType

_PLACE_WORDS = wordset(
    """street st avenue ave road rd boulevard blvd lane ln drive dr highway hwy parkway pkwy
    expressway freeway turnpike terrace bridge tunnel airport school elementary academy library
    memorial center centre hospital clinic building tower university college station plaza
    mall church cathedral museum stadium arena hotel inn suite apartments apartment
    avenue circle trail airport county city"""
)
# Common surnames that are also place words: only a place after "the/on/at/near ...".
_WEAK_PLACE_WORDS = wordset("park hall way court place square heights hill")
_PLACE_PREPOSITIONS = wordset("the on at near in to by past behind across along")
_BUSINESS_WORDS = wordset(
    """wireless florist florists dental dentistry catering plumbing bakery pharmacy insurance
    bank internet movers auto body inc llc ltd co corp company group services solutions
    veterinary motors electric salon spa cafe restaurant grill pizza market store shop foods
    realty law associates partners labs systems technologies tech telecom cleaners
    landscaping construction roofing hvac trattoria bistro diner deli pediatrics dentistry
    orthodontics chiropractic medical health healthcare therapy vision optometry family
    practice pharmacy hardware supply supplies"""
)
_TITLES = wordset("mr mrs ms miss dr doctor prof professor officer")
_NOT_NAMES = wordset(
    """monday tuesday wednesday thursday friday saturday sunday today tomorrow tonight yes no
    okay ok sure great perfect thanks hello hi hey please just the that this it my your our
    we and but so oh well actually also happy birthday visa amex mastercard discover
    suite apt unit room floor god english spanish"""
)
_MONTHS = wordset(
    "january february march april may june july august september october november december"
)
_LEADING_NON_NAMES = _NOT_NAMES | _TITLES
_NAME = r"[A-Z][a-z]+(?:-[A-Z]?[a-z]+|'[A-Z][a-z]+)*"
_FULL_NAME = rf"{_NAME}(?:[ \t]+{_NAME}){{0,2}}"
_INTRO = (
    r"my name is|my name's|name is|name's|this is|it's|it is|i'm|i am|speaking with|"
    r"speak with|speak to|talk to|talking to|ask for|asking for|calling for|looking for|"
    r"under|named|called|mr\.?|mrs\.?|ms\.?|miss|dr\.?|doctor|first name(?: is)?|"
    r"last name(?: is)?|surname(?: is)?|maiden name(?: is)?|full name(?: is)?|husband|wife|"
    r"son|daughter|brother|sister|mother|father|mom|dad|grandmother|grandfather|grandma|"
    r"grandpa|aunt|uncle|cousin|friend|boss|manager|tenant|landlord|neighbor|happy birthday"
)
_INTRODUCED = re.compile(rf"\b(?i:{_INTRO})[,:]?[ \t]+({_FULL_NAME})")
_VOCATIVE = re.compile(
    r"\b(?i:hi|hello|hey|thanks|thank you|okay|ok|sure|bye|goodbye|sorry|morning|afternoon)"
    rf",?[ \t]+({_FULL_NAME})(?=[,.!?])"
)
_SIGN_ON = re.compile(rf"\b({_FULL_NAME}),?[ \t]+(?:here|speaking|calling from|calling back)\b")
_SPELLED = re.compile(r"\b[A-Z](?:[ \t]*[,-]?[ \t]+[A-Z]\b){2,}")
_SPELL_CUE = re.compile(r"(?i)\b(?:spell\w*|that's|that is|it's|as in)\W*$")
_LOWER_INTRO = re.compile(
    r"\b(?:my name is|my name's|name's|this is|it's|its|i'm|im)[ \t]+([a-z]+)(?:[ \t]+([a-z]+))?"
)
_COMMON_LOWER = wordset(
    """calling great good fine okay ok correct right wrong sorry about going gonna just really
    actually still again regarding urgent important ready done broken working not here there
    fine weird new old free busy late early open closed available sure true false fast slow
    ridiculous frustrating annoying terrible awesome perfect better worse the best worst
    confusing complicated simple easy hard impossible possible finally currently probably
    usually only exactly definitely calling called closed confused worried area code number
    account card order address email phone cell line name last first ticket case bill
    payment refund charge store office home work"""
)
_COMMON_SUFFIXES = ("ing", "ful", "ous", "able", "ible", "tion", "ment", "ness")


def _words_before(text: str, start: int, n: int) -> list[str]:
    return re.findall(r"[A-Za-z']+", text[max(0, start - 40) : start])[-n:]


def _word_after(text: str, end: int) -> str:
    match = re.match(r"\W*([A-Za-z]+)", text[end : end + 30])
    return match.group(1).lower() if match else ""


def is_place_or_business(text: str, start: int, end: int) -> bool:
    """Whether the words in and around a candidate make it a place or a business."""
    words = [w.lower().rstrip(".") for w in re.findall(r"[A-Za-z.']+", text[start:end])]
    nxt = _word_after(text, end)
    if any(w in _PLACE_WORDS or w in _BUSINESS_WORDS for w in words):
        return True
    if nxt in _PLACE_WORDS or nxt in _BUSINESS_WORDS:
        return True
    before = [w.lower() for w in _words_before(text, start, 1)]
    if (words and words[-1] in _WEAK_PLACE_WORDS) or nxt in _WEAK_PLACE_WORDS:
        return bool(before) and before[0] in _PLACE_PREPOSITIONS
    return False


def _strip_title(text: str, start: int, end: int) -> int:
    match = re.match(
        r"(?i)(?:mr|mrs|ms|miss|dr|doctor|prof|professor|officer)\.?[ \t]+", text[start:end]
    )
    return start + match.end() if match else start


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Drop leading non-name words; reject digits, places/businesses, a month on its own."""
    value = text[start:end]
    if any(c.isdigit() for c in value):
        return None
    for word in re.finditer(r"[A-Za-z.']+", value):
        if word.group().lower().rstrip(".") not in _LEADING_NON_NAMES:
            start += word.start()
            break
    else:
        return None
    words = text[start:end].lower().split()
    if len(words) == 1 and words[0] in _MONTHS:
        return None
    return None if is_place_or_business(text, start, end) else (start, end)


class PersonRecognizer(SpanRecognizer):
    """Person names from NER and from introduction, vocative and spelling patterns."""

    ENTITY_TYPES = (EntityType.PERSON,)

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield filtered NER names, then context-pattern names."""
        for ent in getattr(nlp_artifacts, "entities", ()):
            if ent.label_ != "PERSON":
                continue
            start = _strip_title(text, ent.start_char, ent.end_char)
            before = [w.lower() for w in _words_before(text, start, 2)]
            if before[-1:] == ["the"] or (before[-1:] == ["calling"] and before[:1] != ["for"]):
                continue
            span = _trimmed(text, start, ent.end_char)
            if span:
                yield Finding(EntityType.PERSON, *span, 0.85)
        for pattern, score in ((_INTRODUCED, 0.8), (_VOCATIVE, 0.75), (_SIGN_ON, 0.75)):
            for match in pattern.finditer(text):
                span = _trimmed(text, *match.span(1))
                if span:
                    yield Finding(EntityType.PERSON, *span, score)
        yield from self._spelled(text)
        if not any(c.isupper() for c in text):
            yield from self._uncased(text)

    def _spelled(self, text: str) -> Iterator[Finding]:
        """Letters read out one by one, after a spelling cue or spelling a preceding word."""
        for match in _SPELLED.finditer(text):
            letters = "".join(c for c in match.group() if c.isalpha()).lower()
            before = text[max(0, match.start() - 60) : match.start()]
            spelled_back = letters in {w.lower() for w in re.findall(r"[A-Za-z]+", before)}
            if spelled_back or _SPELL_CUE.search(before):
                yield Finding(EntityType.PERSON, match.start(), match.end(), 0.8)

    def _uncased(self, text: str) -> Iterator[Finding]:
        """In uncased transcripts, a non-common word after "this is"/"my name is"."""
        for match in _LOWER_INTRO.finditer(text):
            first, second = match.group(1), match.group(2)
            if not _uncommon(first):
                continue
            end = match.end(2) if second and _uncommon(second) else match.end(1)
            yield Finding(EntityType.PERSON, match.start(1), end, 0.7)


def _uncommon(word: str) -> bool:
    return (
        len(word) > 2
        and word not in STOP_WORDS
        and word not in _COMMON_LOWER
        and not word.endswith(_COMMON_SUFFIXES)
    )
