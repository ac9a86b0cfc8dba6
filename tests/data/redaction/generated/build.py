"""Generate the templated ASR-style corpus: ``train.jsonl`` and the held-out ``test.jsonl``.

Run from the repository root: ``.venv/bin/python tests/data/redaction/generated/build.py``.
Deterministic (fixed seeds); the output is committed so the evaluation never depends on a
generator run.

Independence (the point of this corpus, issue 15):

- **Train side** names come from the same packaged lists the redactor's gazetteer is built
  from (``names``: US census 1990; ``gender-guesser``: nam_dict). It is the side to look at
  while developing; nothing is reported on it.
- **Test side** names come only from ``faker`` person providers of locales chosen per name
  origin (West/East/Southern African, Vietnamese, Arabic, Latino, South Asian, US). Faker
  is a dev dependency and never loaded by the redactor. Names that are also English words
  are picked automatically on each side (a name in that side's list that is a frequent
  lowercase English word), so neither side hand-picks them.
- Templates, streets, cities, e-mail domains, business names, public figures and noise
  words are two disjoint hand-written sets below (``TRAIN`` and ``TEST``); the test set
  was written once and is not to be edited to make the redactor pass.

Each segment's gold entities carry the PII type and, for PERSON, the name origin. A gold
span covers everything said for the value, including every attempt of a self-correction
("five five five no sorry five five six"), so a leak of a first attempt counts.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
ORD = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "twenty-first",
    "twenty-second",
    "twenty-third",
    "twenty-fourth",
    "twenty-fifth",
    "twenty-sixth",
    "twenty-seventh",
    "twenty-eighth",
]
NATO = {
    "a": ["apple", "alpha", "adam"], "b": ["boy", "bravo"], "c": ["cat", "charlie"],
    "d": ["dog", "delta", "david"], "e": ["echo", "edward"], "f": ["frank", "fox"],
    "g": ["george", "golf"], "h": ["henry", "hotel"], "i": ["ida", "india"],
    "j": ["john", "juliet"], "k": ["kilo", "king"], "l": ["lima", "larry"],
    "m": ["mary", "mike"], "n": ["nancy", "november"], "o": ["ocean", "oscar"],
    "p": ["peter", "papa"], "q": ["queen", "quebec"], "r": ["robert", "romeo"],
    "s": ["sam", "sierra"], "t": ["tom", "tango"], "u": ["uniform", "umbrella"],
    "v": ["victor", "victory"], "w": ["william", "whiskey"], "x": ["x-ray"],
    "y": ["yellow", "yankee"], "z": ["zebra", "zulu"],
}  # fmt: skip


@dataclass(frozen=True)
class Side:
    """One side's independent lists."""

    name: str
    seed: int
    intro: tuple[str, ...]
    bare: tuple[str, ...]  # name with no introduction: {n}
    phone: tuple[str, ...]
    ssn: tuple[str, ...]
    card: tuple[str, ...]
    dob: tuple[str, ...]
    email: tuple[str, ...]
    address: tuple[str, ...]
    spelled: tuple[str, ...]
    negatives: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    domains: tuple[str, ...]
    businesses: tuple[str, ...]
    figures: tuple[str, ...]
    fillers: tuple[str, ...]
    corrections: tuple[str, ...]
    names: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


TRAIN = Side(
    name="train",
    seed=1501,
    intro=(
        "hi my name is {n} and i need help with my bill",
        "yeah this is {n} calling about the delivery",
        "it's {n} i spoke to someone yesterday",
        "can i speak with {n} please",
        "the account holder is {n}",
        "my wife {n} set it up",
    ),
    bare=(
        "tell {n} i said thanks",
        "the order is under {n}",
        "{n} called me this morning about it",
        "i was helped by {n} last week",
        "please let {n} know the package came",
    ),
    phone=(
        "my number is {v}",
        "you can reach me at {v}",
        "the callback number is {v} anytime",
    ),
    ssn=("my social is {v}", "social security number {v}"),
    card=("the card number is {v}", "card is {v} and it expires soon"),
    dob=("my date of birth is {v}", "i was born {v}", "birthday is {v}"),
    email=("my email is {v}", "send it to {v} please"),
    address=("i live at {v}", "ship it to {v}", "the address is {v}"),
    spelled=("that's spelled {v}", "let me spell it {v}"),
    negatives=(
        "i ordered from {b} last night",
        "like {f} said you gotta keep going",
        "i live off {s} near the park",
        "order number {o} was late",
        "it cost {p} dollars",
        "the app is on version {r}",
        "i called {c} times already",
        "they close at {t}",
    ),
    streets=(
        "oak street",
        "maple avenue",
        "pine road",
        "cedar lane",
        "elm drive",
        "lincoln way",
        "washington boulevard",
        "park place",
        "river road",
        "sunset drive",
    ),
    cities=("springfield", "riverside", "fairview", "greenville"),
    domains=("gmail dot com", "yahoo dot com", "outlook dot com", "aol dot com"),
    businesses=("wendys", "trader joes", "dominos", "jimmy johns"),
    figures=("martin luther king", "oprah", "michael jordan", "obama"),
    fillers=("uh", "um", "like"),
    corrections=("no sorry", "wait no", "i mean"),
)

TEST = Side(
    name="test",
    seed=1515,
    intro=(
        "good morning um my name's {n} i'm calling about an appointment",
        "hello you're speaking with {n}",
        "i'm {n} the patient",
        "yes ma'am i am {n}",
        "put it under the name {n}",
        "her name is {n} she's my daughter",
        "okay so it's for my grandson {n}",
    ),
    bare=(
        "{n} is going to pick it up on friday",
        "could you ask {n} to call me back",
        "i already gave it to {n} at the front desk",
        "reservation for {n} party of four",
        "it should say {n} on the label",
        "so {n} and me we both signed",
        "me and {n} came in together",
    ),
    phone=(
        "best number to call is {v} thank you",
        "um text me on {v}",
        "write down {v} that's my cell",
        "call {v} if nobody answers",
    ),
    ssn=("last thing the ssn is {v}", "uh social {v}", "my ss number is {v}"),
    card=("okay the visa is {v}", "charge it to {v} please", "my debit card {v}"),
    dob=(
        "d o b is {v}",
        "my birthday {v}",
        "she was born on {v}",
        "date of birth {v} yeah",
    ),
    email=(
        "the email on file is {v}",
        "you can email me {v}",
        "it's {v} all lowercase",
    ),
    address=(
        "we moved to {v} last month",
        "mail the check to {v}",
        "my home address is {v}",
        "deliver to {v} please",
    ),
    spelled=("it's spelled {v}", "spelling {v}", "{v} that's how you spell it"),
    negatives=(
        "we grabbed lunch at {b} yesterday",
        "you know what {f} always says about patience",
        "the bus goes down {s} every hour",
        "my confirmation code is {o}",
        "the total came to {p}",
        "i'm running version {r} of the app",
        "i've been waiting {c} minutes",
        "the pharmacy opens at {t}",
        "i have {c} kids and a dog",
        "room {c} on the second floor",
    ),
    streets=(
        "magnolia street",
        "dogwood court",
        "sycamore avenue",
        "juniper lane",
        "martin luther king junior boulevard",
        "peachtree road",
        "bayou drive",
        "cherry hill road",
        "harbor view terrace",
        "frederick douglass avenue",
        "malcolm x boulevard",
        "canal street",
    ),
    cities=("mobile", "jackson", "oakland", "hialeah", "newark"),
    domains=(
        "hotmail dot com",
        "icloud dot com",
        "mail dot example dot co dot uk",
        "student dot cuny dot edu",
        "protonmail dot com",
        "yahoo dot com dot mx",
        "comcast dot net",
    ),
    businesses=(
        "chick fil a",
        "popeyes",
        "dave's hot chicken",
        "ben and jerrys",
        "papa johns",
        "marie callenders",
        "church's chicken",
    ),
    figures=("beyonce", "serena williams", "barack obama", "maya angelou", "denzel"),
    fillers=("uh", "um", "you know", "hold on", "let me see"),
    corrections=("no sorry", "no wait", "scratch that", "actually", "sorry i meant"),
)


def _ascii(text: str) -> str:
    """ASR output: accents dropped, lowercase."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _clean(name: str) -> str | None:
    name = _ascii(name).strip()
    return name if re.fullmatch(r"[a-z]+(?:[-' ][a-z]+)*", name) and len(name) > 1 else None


def _word_names(names: list[str]) -> list[str]:
    from english_words import get_english_words_set
    from wordfreq import zipf_frequency

    lower = {w for w in get_english_words_set(["web2"], lower=False, alpha=True) if w.islower()}
    return sorted(n for n in names if n in lower and zipf_frequency(n, "en") >= 4.0)


def _train_names() -> dict[str, list[tuple[str, str]]]:
    """Gazetteer sources: census first/last names and nam_dict first names."""
    import gender_guesser
    import names as census

    base = Path(census.__file__).parent
    firsts: list[str] = []
    for fname in ("dist.female.first", "dist.male.first"):
        lines = (base / fname).read_text().splitlines()[:800]
        firsts += [ln.split()[0].lower() for ln in lines]
    lasts = [ln.split()[0].lower() for ln in (base / "dist.all.last").read_text().splitlines()]
    lasts = lasts[:3000]
    nam = Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt"
    world: list[str] = []
    for line in nam.read_text(encoding="iso8859-1").splitlines():
        if line.startswith("#") or len(line) < 30:
            continue
        word = _clean(line[3:29].strip().replace("+", "-"))
        if word and " " not in word:
            world.append(word)
    rng = random.Random(7)
    world = rng.sample(sorted(set(world)), 3000)
    return {
        "us_census": [(f, rng.choice(lasts)) for f in firsts],
        "nam_dict": [(f, rng.choice(lasts)) for f in world],
        "word_name": [(f, rng.choice(lasts)) for f in _word_names(firsts)],
    }


TEST_LOCALES = {
    "west_african": ("yo_NG", "ig_NG", "ha_NG", "en_NG", "tw_GH"),
    "east_african": ("en_KE", "sw"),
    "southern_african": ("zu_ZA",),
    "vietnamese": ("vi_VN",),
    "arabic": ("fr_DZ", "en_PK"),
    "latino": ("es_MX", "es_CO", "es_AR", "es_CL"),
    "south_asian": ("en_IN",),
    "us_general": ("en_US",),
}


def _test_names() -> dict[str, list[tuple[str, str]]]:
    """Faker person providers only (never a gazetteer source)."""
    from faker import Faker

    out: dict[str, list[tuple[str, str]]] = {}
    all_firsts: list[str] = []
    for origin, locales in TEST_LOCALES.items():
        pairs: set[tuple[str, str]] = set()
        for loc in locales:
            fake = Faker(loc)
            fake.seed_instance(15)
            for _ in range(400):
                first, last = _clean(fake.first_name()), _clean(fake.last_name())
                if first and last:
                    pairs.add((first, last))
        out[origin] = sorted(pairs)
        all_firsts += [f for f, _ in pairs]
    rng = random.Random(15)
    pool = [p for ps in out.values() for p in ps]
    words = _word_names(sorted(set(all_firsts)))
    out["word_name"] = [(w, rng.choice(pool)[1]) for w in words]
    return out


def _digits(rng: random.Random, digits: str) -> str:
    """Say digits one by one: 'oh' or 'zero', sometimes 'double'."""
    out: list[str] = []
    i = 0
    while i < len(digits):
        d = digits[i]
        if i + 1 < len(digits) and digits[i + 1] == d and rng.random() < 0.3:
            out += ["double", UNITS[int(d)]]
            i += 2
            continue
        out.append(("oh" if rng.random() < 0.6 else "zero") if d == "0" else UNITS[int(d)])
        i += 1
    return " ".join(out)


def _pair(n: int) -> str:
    if n < 10:
        return f"oh {UNITS[n]}"
    if n < 20:
        return TEENS[n - 10]
    return TENS[n // 10] + ("" if n % 10 == 0 else " " + UNITS[n % 10])


def _groups(rng: random.Random, side: Side, groups: list[str], *, correct: bool) -> str:
    """Spoken digit groups with fillers or pauses between them and maybe a self-correction."""
    said = []
    for i, g in enumerate(groups):
        text = _digits(rng, g) if rng.random() < 0.8 or len(g) > 4 else g
        if correct and i == len(groups) - 1:
            wrong = "".join(str((int(c) + 1) % 10) for c in g)
            text = f"{_digits(rng, wrong)} {rng.choice(side.corrections)} {text}"
        said.append(text)
    sep = [" ", " ", " ", " uh ", " ... ", f" {rng.choice(side.fillers)} "]
    return "".join(s + (rng.choice(sep) if i < len(said) - 1 else "") for i, s in enumerate(said))


def _luhn(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def phone(rng: random.Random, side: Side) -> str:
    area = str(rng.randrange(201, 990))
    groups = [area, str(rng.randrange(200, 999)), f"{rng.randrange(10000):04d}"]
    said = _groups(rng, side, groups, correct=rng.random() < 0.25)
    if rng.random() < 0.2:
        said = rng.choice(["plus one ", "one ", "country code one "]) + said
    if rng.random() < 0.15:
        said += rng.choice([" extension ", " ext ", " x "]) + _digits(
            rng, str(rng.randrange(10, 999))
        )
    return said


def ssn(rng: random.Random, side: Side) -> str:
    groups = [
        f"{rng.randrange(100, 899)}",
        f"{rng.randrange(10, 99)}",
        f"{rng.randrange(10000):04d}",
    ]
    return _groups(rng, side, groups, correct=rng.random() < 0.2)


def card(rng: random.Random, side: Side) -> str:
    number = _luhn(rng.choice(["4", "51", "55", "6011"]), 16, rng)
    groups = [number[i : i + 4] for i in range(0, 16, 4)]
    return _groups(rng, side, groups, correct=rng.random() < 0.15)


def _year(rng: random.Random) -> str:
    y = rng.randrange(1935, 2012)
    if y >= 2000:
        return rng.choice(["two thousand ", "two thousand and "]) + (
            UNITS[y - 2000] if y < 2010 else TEENS[y - 2010]
        )
    return "nineteen " + _pair(y % 100)


def dob(rng: random.Random, side: Side) -> str:
    m, d = rng.randrange(12), rng.randrange(28)
    style = rng.randrange(4)
    if style == 0:
        return f"{MONTHS[m]} {ORD[d]} {_year(rng)}"
    if style == 1:
        return f"the {ORD[d]} of {MONTHS[m]} {_year(rng)}"
    if style == 2:
        y = rng.randrange(1935, 2010)
        return f"{_pair(m + 1)} {_pair(d + 1)} {_pair(y % 100)}"
    return f"{m + 1}/{d + 1}/{rng.randrange(1935, 2010)}"


def _spell(rng: random.Random, word: str) -> str:
    out = []
    for c in word:
        if c.isalpha() and c in NATO and rng.random() < 0.25:
            out.append(f"{c} as in {rng.choice(NATO[c])}")
        elif c.isalpha():
            out.append(c)
        elif c == "-":
            out.append("dash")
    return " ".join(out)


def email(rng: random.Random, side: Side, first: str, last: str) -> str:
    first, last = first.replace(" ", ""), last.replace(" ", "").replace("'", "")
    style = rng.randrange(5)
    if style == 0:
        local = f"{first} dot {last}"
    elif style == 1:
        local = f"{first[0]} {last}"
    elif style == 2:
        local = f"{first} underscore {last} {_digits(rng, str(rng.randrange(10, 99)))}"
    elif style == 3:
        local = _spell(rng, first)
    else:
        local = f"{first}{last[:3]}"
    return f"{local} at {rng.choice(side.domains)}"


def _house(rng: random.Random) -> str:
    n = rng.randrange(1, 9999)
    if n >= 1000 and rng.random() < 0.6:
        return f"{_pair(n // 100)} {_pair(n % 100) if n % 100 else 'hundred'}"
    if 100 <= n < 1000 and rng.random() < 0.6:
        return f"{UNITS[n // 100]} {_pair(n % 100) if n % 100 else 'hundred'}"
    return _digits(rng, str(n)) if rng.random() < 0.5 else str(n)


def address(rng: random.Random, side: Side) -> str:
    text = f"{_house(rng)} {rng.choice(side.streets)}"
    r = rng.random()
    if r < 0.3:
        text += f" apartment {_digits(rng, str(rng.randrange(1, 30)))} {rng.choice('abcd')}"
    elif r < 0.45:
        text += f" unit {_digits(rng, str(rng.randrange(1, 400)))}"
    if rng.random() < 0.3:
        text += f" {rng.choice(side.cities)}"
    return text


def _name_variant(rng: random.Random, first: str, last: str, pool: list[tuple[str, str]]) -> str:
    r = rng.random()
    if r < 0.35:
        return first
    if r < 0.45:
        return last
    if r < 0.55:
        return f"{first} {last}-{rng.choice(pool)[1]}"
    if r < 0.62:
        return f"{first} {rng.choice(pool)[0]} {last}"
    return f"{first} {last}"


@dataclass
class Builder:
    """Segments as pieces (text, gold type, origin); offsets computed on join."""

    pieces: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def add(self, text: str, kind: str | None = None, origin: str | None = None) -> None:
        self.pieces.append((text, kind, origin))

    def fill(self, template: str, value: str, kind: str | None, origin: str | None = None) -> None:
        for i, part in enumerate(re.split(r"\{[a-z]\}", template)):
            if i:
                self.add(value, kind, origin)
            if part.strip():
                self.add(part.strip())

    def build(self, seg_id: str, cased: bool) -> dict[str, object]:
        text, entities = "", []
        for piece, kind, origin in self.pieces:
            if text:
                text += " "
            if cased and kind == "PERSON":
                piece = " ".join(w.capitalize() for w in piece.split())
            start = len(text)
            text += piece
            if kind:
                entity: dict[str, object] = {"type": kind, "start": start, "end": len(text)}
                if origin:
                    entity["origin"] = origin
                entities.append(entity)
        if cased:
            text = text[0].upper() + text[1:] + "."
        return {"id": seg_id, "text": text, "entities": entities}


def _negative(rng: random.Random, side: Side) -> Builder:
    b = Builder()
    template = rng.choice(side.negatives)
    values: dict[str, Callable[[], str]] = {
        "b": lambda: rng.choice(side.businesses),
        "f": lambda: rng.choice(side.figures),
        "s": lambda: rng.choice(side.streets),
        "o": lambda: f"{rng.choice('abckxz')}{rng.randrange(100, 99999)}",
        "p": lambda: rng.choice(
            [
                f"${rng.randrange(2, 300)}.{rng.randrange(100):02d}",
                f"{_pair(rng.randrange(20, 99))} dollars",
            ]
        ),
        "r": lambda: f"{rng.randrange(1, 20)}.{rng.randrange(10)}.{rng.randrange(10)}",
        "c": lambda: rng.choice(["two", "three", "twenty", "forty five", "15", "ten"]),
        "t": lambda: rng.choice(["nine thirty", "7 pm", "eight a m", "ten fifteen", "noon"]),
    }
    for _i, part in enumerate(re.split(r"(\{[a-z]\})", template)):
        if re.fullmatch(r"\{[a-z]\}", part):
            b.add(values[part[1]]())
        elif part.strip():
            b.add(part.strip())
    return b


def segment(rng: random.Random, side: Side, seg_id: str) -> dict[str, object]:
    origin = rng.choice(sorted(side.names))
    pool = side.names[origin]
    first, last = rng.choice(pool)
    kind = rng.choices(
        ["intro", "bare", "spelled", "phone", "ssn", "card", "dob", "email", "address", "neg"],
        weights=[14, 12, 6, 12, 6, 6, 8, 8, 10, 14],
    )[0]
    b = Builder()
    if rng.random() < 0.2:
        b.add(rng.choice(side.fillers))
    if kind in ("intro", "bare"):
        templates = side.intro if kind == "intro" else side.bare
        b.fill(rng.choice(templates), _name_variant(rng, first, last, pool), "PERSON", origin)
    elif kind == "spelled":
        b.fill(rng.choice(side.intro), last, "PERSON", origin)
        b.fill(rng.choice(side.spelled), _spell(rng, last), "PERSON", origin)
    elif kind == "neg":
        b = _negative(rng, side)
    else:
        make = {"phone": phone, "ssn": ssn, "card": card, "dob": dob, "address": address}
        value = email(rng, side, first, last) if kind == "email" else make[kind](rng, side)
        gold = {
            "phone": "PHONE_NUMBER", "ssn": "US_SSN", "card": "CREDIT_CARD",
            "dob": "DATE_OF_BIRTH", "email": "EMAIL_ADDRESS", "address": "STREET_ADDRESS",
        }[kind]  # fmt: skip
        templates = {
            "phone": side.phone, "ssn": side.ssn, "card": side.card, "dob": side.dob,
            "email": side.email, "address": side.address,
        }[kind]  # fmt: skip
        b.fill(rng.choice(templates), value, gold)
    if rng.random() < 0.25 and kind != "neg":
        b.add(rng.choice(["thanks", "okay", "alright", "yeah"]))
    return b.build(seg_id, cased=rng.random() < 0.15)


def build(side: Side, count: int) -> list[dict[str, object]]:
    rng = random.Random(side.seed)
    return [segment(rng, side, f"{side.name}-{i:05d}") for i in range(count)]


def main() -> None:
    train = Side(**{**TRAIN.__dict__, "names": _train_names()})
    test = Side(**{**TEST.__dict__, "names": _test_names()})
    for side, count in ((train, 1200), (test, 2400)):
        rows = build(side, count)
        path = HERE / f"{side.name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"{path.name}: {len(rows)} segments")


if __name__ == "__main__":
    main()
