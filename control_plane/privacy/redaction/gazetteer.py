"""PERSON from a name gazetteer with context scoring, for lowercase ASR text (issue 15).

spaCy's small model finds few names in uncased, unpunctuated speech and fewer still from
the communities the product serves. This recognizer looks every word up instead.

Sources (packaged, offline, loaded once per :class:`Redactor`, never downloaded):

- first names: ``names`` (US census 1990 female and male first names) and
  ``gender-guesser``'s ``nam_dict.txt`` (about 48,000 first names from many countries,
  West African, Arabic, Vietnamese and Latin American among them);
- surnames: ``names`` (US census 1990, all 88,799 surnames);
- English words: ``english-words`` (Webster's 2nd, lowercase entries only) intersected
  with ``wordfreq``'s English list at a Zipf frequency of at least 4.0 (about once per
  10,000 words). A name that is such a word ("grace", "will", "justice", "park") is
  only a name in a name context, and so is a surname that is an English word or frequent
(Zipf >= 4.0: "williams", "young"); every other gazetteer word is a name anywhere.

The held-out evaluation side (tests/data/redaction/generated) takes its names from
``faker``, which is none of these, so the figures measure generalisation.

A word in neither word list nor the gazetteer is what ASR writes for a name it has no
word for ("okonkwo", "siyabonga"): it scores 0.55 alone and 0.7 after a cue.

In cased text (spaCy NER and the introduction patterns already see capitals there) only a
Capitalised word counts, an acronym never, an unknown word only after a cue, and the
place/business filter of :mod:`person` applies.

Scoring: a gazetteer word that is not a common English word scores 0.6; a common-word
name (or a word in no list at all) after a name cue ("my name is", "tell", "ask",
"under", "for", "me and", "my daughter", ...) scores 0.75. A name is dropped when a
street or business word follows within four words (a street named after a person is the
address recognizer's, which outscores it in the merge). Adjacent name words, hyphenated
parts and particles ("de la", "bin", "van") join one span. Letters said one by one, with
or without "as in" hints, are a spelled name, or an e-mail's local part when a spoken
domain follows. A name run right after a street suffix is the address's city, and so is
any other word there after a house number ("2940 river road greenville").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from control_plane.privacy.redaction.person import is_place_or_business
from control_plane.privacy.redaction.recognizer import Finding, SpanRecognizer, wordset
from control_plane.privacy.redaction.textual import SPOKEN_DOMAIN as _SPOKEN_DOMAIN
from control_plane.privacy.redaction.types import EntityType

COMMON_WORD_MIN_FREQUENCY = 1e-4 / 10  # Zipf 4.0
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_CUES = (
    "my name is", "my name's", "name is", "name's", "this is", "i'm", "i am", "it's",
    "tell", "ask", "asking for", "ask for", "under", "under the name", "for my", "with",
    "me and", "named", "called", "mr", "mrs", "ms", "miss",
    "dr", "daughter", "son", "grandson", "granddaughter", "wife", "husband", "brother",
    "sister", "mother", "father", "mom", "dad", "aunt", "uncle", "cousin", "friend",
    "nephew", "niece", "hi", "hello", "hey", "thanks", "thank you", "bye", "dear",
    "first name", "last name", "surname", "patient", "spelled", "speaking with", "talk to",
    "speak with", "speak to", "gave it to", "reservation for", "is for",
)  # fmt: skip
_CUE = re.compile(r"(?:^|\s)(?:" + "|".join(re.escape(c) for c in _CUES) + r")\s+$")
_FOLLOW_CUE = re.compile(
    r"^\s+(?:is going|is coming|said|says|called|and me|here speaking|is my)\b"
)
_STREET_SUFFIXES = wordset(
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct terrace way place"
)
_AFTER_STREET = re.compile(
    r"\d[^,.;!?]{0,60}?\b(?:street|avenue|road|boulevard|lane|drive|court|terrace|way|place)"
    r"[ \t]+([a-z]{3,})\b"
)
_VOWEL = re.compile("[aeiouy]")
_PARTICLES = wordset("de la del los das dos da di du van von der den bin ibn bint abu al el le")
_PLACE = wordset(
    """street st avenue ave road rd boulevard blvd lane ln drive dr highway hwy parkway
    terrace court ct place way circle trail square plaza heights hill park bridge center
    school university college hospital church county city airport station wireless florist
    florists bakery pharmacy insurance bank auto inc llc company restaurant grill pizza
    market store shop foods salon cafe kitchen chicken"""
)
_NEVER = wordset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday zero one two three four five
    six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
    eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
    oh uh um hmm yeah yes okay ok alright thanks thank please sorry hello hi hey bye dot
    at underscore dash apartment suite unit extension ext visa amex mastercard discover
    social security gmail yahoo hotmail outlook icloud aol comcast com net org edu gov
    ma'am sir am pm"""
)


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Lowercase name words and the common English words among them."""

    names: frozenset[str]
    common: frozenset[str]
    firsts: frozenset[str]
    known: frozenset[str]  # every lowercase English word of either word list

    @classmethod
    def load(cls) -> Gazetteer:
        """Read the packaged lists (about 0.5 s)."""
        import wordfreq
        from english_words import get_english_words_set

        names: set[str] = set()
        firsts: set[str] = set()
        census = resources.files("names")
        for part in ("dist.female.first", "dist.male.first", "dist.all.last"):
            text = census.joinpath(part).read_text(encoding="ascii")
            found = {line.split(None, 1)[0].lower() for line in text.splitlines() if line}
            names |= found
            if part != "dist.all.last":
                firsts |= found
        nam = resources.files("gender_guesser").joinpath("data", "nam_dict.txt")
        for line in nam.read_text(encoding="iso8859-1").splitlines():
            if line.startswith("#") or len(line) < 30:
                continue
            for part in re.split(r"[+ \-]", line[3:29].strip().lower()):
                if part.isascii() and part.isalpha() and len(part) > 1:
                    names.add(part)
                    firsts.add(part)
        names -= _NEVER | STOP_WORDS
        web2 = get_english_words_set(["web2"], lower=False, alpha=True)
        freq = wordfreq.get_frequency_dict("en", wordlist="small")
        lower = {w for w in web2 if w.islower()}

        def is_word(w: str) -> bool:
            stem = re.sub(r"(?:ing|ed|es|s|er)$", "", w)
            return w in lower or (stem != w and (stem in lower or stem + "e" in lower))

        common = {
            w
            for w in names
            if len(w) < 3
            or (freq.get(w, 0.0) >= COMMON_WORD_MIN_FREQUENCY and (is_word(w) or w not in firsts))
            or (is_word(w) and w not in firsts)
        } | (_PARTICLES & names)
        known = lower | {w for w, f in freq.items() if f >= 1e-6}
        return cls(frozenset(names), frozenset(common), frozenset(firsts), frozenset(known - names))


_LETTER = r"\b[a-z]\b(?:[ \t]+as[ \t]+in[ \t]+[a-z]+(?:-[a-z]+)?)?"
_SPELLED_RUN = re.compile(rf"{_LETTER}(?:[ \t]+(?:dash[ \t]+|hyphen[ \t]+)?{_LETTER})+")
# Spoken acronyms that are not a spelled name.
_ACRONYMS = wordset("dob ssn ssi id pin atm usa us ok tv pm am asap fyi llc inc ceo ny la dc")


def spelled_runs(text: str) -> Iterator[Finding]:
    """Letters said one by one ("m a l i k", "j as in john o h n"): a name, or the local
    part of an e-mail when a spoken domain follows ("... at gmail dot com")."""
    lower = text.lower()
    for match in _SPELLED_RUN.finditer(lower):
        letters = re.findall(
            r"\b[a-z]\b(?![ \t]+in\b)", re.sub(r"as in [a-z-]+", "", match.group())
        )
        hinted = " as in " in match.group()
        spell_cue = "spell" in lower[max(0, match.start() - 20) : match.end() + 24]
        if len(letters) < 2 or (len(letters) < 3 and not hinted and not spell_cue):
            continue
        if "".join(letters) in _ACRONYMS:
            continue
        domain = _SPOKEN_DOMAIN.match(lower, match.end())
        if domain:
            yield Finding(EntityType.EMAIL_ADDRESS, match.start(), domain.end(), 0.9)
        else:
            yield Finding(EntityType.PERSON, match.start(), match.end(), 0.8)


class GazetteerPersonRecognizer(SpanRecognizer):
    """Names by gazetteer lookup, gated by context for names that are English words."""

    ENTITY_TYPES = (EntityType.PERSON, EntityType.EMAIL_ADDRESS, EntityType.STREET_ADDRESS)

    def __init__(self, gazetteer: Gazetteer) -> None:
        super().__init__()
        self._gaz = gazetteer

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield runs of name words and spelled-out names."""
        yield from spelled_runs(text)
        lower = text.lower()
        yield from self._cities(lower)
        words = list(_WORD.finditer(lower))
        cased = lower != text
        places = [
            (e.start_char, e.end_char)
            for e in getattr(nlp_artifacts, "entities", ())
            if e.label_ != "PERSON"
        ]
        i = 0
        while i < len(words):
            score = self._score(lower, words, i)
            if cased and score is not None:
                score = _cased_score(text, words[i], score)
            if score is None:
                i += 1
                continue
            j = i + 1
            while j < len(words) and self._continues(lower, words, j):
                j += 1
            while i > 0 and self._leads(lower, words, i - 1):
                i -= 1  # "blessing adegbite": a first name that is a word, before a surname
            while j - 1 > i and words[j - 1].group() in _PARTICLES:
                j -= 1
            start, end = words[i].start(), words[j - 1].end()
            if cased and (
                is_place_or_business(text, max(0, start - 12), end)
                or any(s <= start and end <= e for s, e in places)
            ):
                i = j
                continue
            if i > 0 and words[i - 1].group() in _STREET_SUFFIXES:
                # "... peachtree road jackson": the city of an address, not a person
                yield Finding(EntityType.STREET_ADDRESS, start, end, 0.5)
            elif not _before_place(words, j):
                yield Finding(EntityType.PERSON, start, end, score)
            i = j

    def _score(self, text: str, words: list[re.Match[str]], i: int) -> float | None:
        word = words[i].group().split("'")[0]
        if word in _NEVER or word in STOP_WORDS or len(word) < 2:
            return None
        if word in self._gaz.names and word not in self._gaz.common:
            return 0.6
        if word not in self._gaz.names and (
            word in self._gaz.known or len(word) < 3 or not _VOWEL.search(word)
        ):
            return None
        # Only a common-word name or an unknown word needs its context (regexes are costly).
        before = bool(_CUE.search(text[max(0, words[i].start() - 24) : words[i].start()]))
        after = bool(_FOLLOW_CUE.match(text[words[i].end() : words[i].end() + 20]))
        if word in self._gaz.names:
            # "i'm running", "it's spelled": a verb form after a cue is not a name.
            return 0.75 if after or (before and not word.endswith(("ing", "ed"))) else None
        return 0.7 if before or after else 0.55

    def _cities(self, text: str) -> Iterator[Finding]:
        """The word after a street suffix ("... cedar lane greenville") is the city."""
        for match in _AFTER_STREET.finditer(text):
            word = match.group(1)
            if word not in STOP_WORDS and word not in _NEVER and word not in _PLACE:
                yield Finding(EntityType.STREET_ADDRESS, match.start(1), match.end(1), 0.5)

    def _leads(self, text: str, words: list[re.Match[str]], k: int) -> bool:
        word = words[k].group()
        return (
            text[words[k].end() : words[k + 1].start()] == " "
            and word in self._gaz.firsts
            and word not in _NEVER
            and word not in STOP_WORDS
        )

    def _continues(self, text: str, words: list[re.Match[str]], j: int) -> bool:
        """Whether word ``j`` continues the name run that ends at word ``j - 1``."""
        gap = text[words[j - 1].end() : words[j].start()]
        if gap not in (" ", "-"):
            return False
        word = words[j].group().split("'")[0]
        if word in _PARTICLES:
            return j + 1 < len(words)
        if word in _NEVER or word in STOP_WORDS or word in _PLACE:
            return False
        if word not in self._gaz.names:
            return word not in self._gaz.known and len(word) > 2
        if word not in self._gaz.common or gap == "-" or words[j - 1].group() in _PARTICLES:
            return True
        # a common-word middle or last name ("tony sandy garba", "mugdha lad") joins a run
        # it sits inside, or ends one whose words are all uncommon names
        nxt = words[j + 1].group() if j + 1 < len(words) else ""
        prev = words[j - 1].group()
        after_first = prev in self._gaz.firsts and prev not in self._gaz.common
        return after_first or (nxt in self._gaz.names and nxt not in self._gaz.common)


def _cased_score(text: str, word: re.Match[str], score: float) -> float | None:
    """In cased text a name is Capitalised (not an acronym); an unknown word needs a cue."""
    original = text[word.start() : word.end()]
    if not original[0].isupper() or (len(original) > 1 and original.isupper()):
        return None
    return None if score == 0.55 else score


def _before_place(words: list[re.Match[str]], end: int) -> bool:
    return any(w.group() in _PLACE for w in words[end : end + 4])
