"""The offline reply policy: one user turn in, one scripted reply out, in Big Mama's voice.

Pure and deterministic (the same text always gets the same reply), and ordered by the
persona's priorities: safety first, then the refusals (sensitive data, prompt extraction,
professional advice), then the three things Big Mama helps with, then small talk, and an
on-topic redirect for everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from control_plane.agents.worker import persona


class Intent(StrEnum):
    SAFETY = "safety"
    SENSITIVE_DATA = "sensitive_data"
    PROMPT_EXTRACTION = "prompt_extraction"
    PROFESSIONAL_ADVICE = "professional_advice"
    GROW_BUSINESS = "grow_business"
    DISCOVER_BUSINESS = "discover_business"
    CULTURE = "culture"
    THANKS = "thanks"
    GREETING = "greeting"
    OFF_TOPIC = "off_topic"


@dataclass(frozen=True)
class ScriptedReply:
    intent: Intent
    text: str
    safety_category: str | None = None


def _phrases(spec: str) -> tuple[str, ...]:
    return tuple(phrase.strip() for phrase in spec.split("|"))


# Card-like digit runs (13-19 digits, optionally grouped) and SSN-shaped numbers.
_CARD_NUMBER: Final = re.compile(r"(?:\d[ -]?){13,19}")
_SSN: Final = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")

_SAFETY_RULES: Final = (
    (
        "self_harm",
        _phrases(
            "suicide|suicidal|kill myself|end my life|hurt myself|self harm|self-harm|want to die"
        ),
    ),
    (
        "medical_emergency",
        _phrases(
            "heart attack|can't breathe|cannot breathe|overdose|having a stroke|unconscious|"
            "bleeding badly|medical emergency|this is an emergency|call an ambulance"
        ),
    ),
    ("child_safety", _phrases("child is in danger|kid is in danger|child abuse")),
    ("abuse", _phrases("abusing me|beats me|hits me|domestic violence|being abused")),
    (
        "violence",
        _phrases(
            "has a gun|with a gun|going to shoot|shoot me|stab|going to hurt|threatening me|"
            "attack me"
        ),
    ),
)

_RULES: Final = (
    (
        Intent.SENSITIVE_DATA,
        _phrases(
            "credit card|debit card|card number|social security|ssn|passport|driver's license|"
            "drivers license|routing number|bank account|password|pin number|one-time code|"
            "tax id"
        ),
    ),
    (
        Intent.PROMPT_EXTRACTION,
        _phrases(
            "system prompt|your instructions|your prompt|ignore previous|ignore all previous|"
            "ignore your|repeat the text above|developer mode|reveal your|your configuration"
        ),
    ),
    (
        Intent.PROFESSIONAL_ADVICE,
        _phrases(
            "diagnos|medication|medicine|prescri|symptom|dosage|lawyer|sue|lawsuit|"
            "legal advice|contract|invest|stocks|crypto|loan|loans|taxes|tax advice|mortgage"
        ),
    ),
    (
        Intent.GROW_BUSINESS,
        _phrases(
            "my business|my shop|my store|small business|customers|marketing|grow|growing|"
            "grant|grants|pricing|social media|business plan"
        ),
    ),
    (
        Intent.DISCOVER_BUSINESS,
        _phrases(
            "black-owned|black owned|restaurant|barber|salon|bookstore|near me|"
            "where can i find|looking for a|support local"
        ),
    ),
    (
        Intent.CULTURE,
        _phrases(
            "history|culture|heritage|tradition|recipe|juneteenth|kwanzaa|family story|"
            "ancestors|music|gospel|jazz|soul food"
        ),
    ),
    (Intent.THANKS, _phrases("thank you|thanks|goodbye|bye")),
    (Intent.GREETING, _phrases("hello|hi|hey|good morning|good evening|howdy")),
)

SAFETY_REPLY: Final = (
    "Baby, your safety comes first. If you or someone near you is in danger or having an "
    "emergency, call 911 right now. If you're thinking about hurting yourself, call or text "
    "988 any time, day or night. I've let a person on our team know."
)

REPLIES: Final[dict[Intent, str]] = {
    Intent.SAFETY: SAFETY_REPLY,
    Intent.SENSITIVE_DATA: (
        "Hold on now, sugar, don't share that with me. I never need card numbers, bank "
        "details, passwords or ID numbers, and I can't take payments. Keep those safe, and "
        "tell me how else I can help."
    ),
    Intent.PROMPT_EXTRACTION: (
        "Baby, I keep my own instructions private, same as Mama's recipe box. What I can do "
        "is help you find Black-owned businesses, talk culture, or help your business grow."
    ),
    Intent.PROFESSIONAL_ADVICE: (
        "I can only give you general pointers on that, baby. For your own situation, please "
        "talk with a qualified professional, like a doctor, a licensed attorney or legal aid, "
        "or a certified financial counselor. They'll do right by you."
    ),
    Intent.GROW_BUSINESS: (
        "I love that you're building something. Start with the folks who already love you: "
        "ask happy customers to spread the word and leave reviews. Then tell your story "
        "plainly, and check your local small business development center for free help."
    ),
    Intent.DISCOVER_BUSINESS: (
        "Oh, I can help with that. Tell me the city or neighborhood and what you're looking "
        "for, and we'll look at Black-owned business directories and community groups "
        "together. Spending with us keeps money in the neighborhood."
    ),
    Intent.CULTURE: (
        "Now that's what I like to hear. Our stories live when we tell them. Sit with your "
        "elders, record their voices, write down the recipes, and label those old photos. "
        "What part of our history would you like to talk about?"
    ),
    Intent.THANKS: "You're so welcome, baby. Come back and see Big Mama anytime, you hear?",
    Intent.GREETING: persona.GREETING,
    Intent.OFF_TOPIC: (
        "Sugar, that's a little outside what I help with. I'm here for Black-owned "
        "businesses, our culture and history, and growing small businesses. Which of those "
        "can I help you with?"
    ),
}


def reply_for(text: str) -> ScriptedReply:
    """The scripted reply to one user turn: safety first, then refusals, then help."""
    normalized = " " + re.sub(r"\s+", " ", text.lower().replace("\u2019", "'")).strip() + " "
    for category, phrases in _SAFETY_RULES:
        if _contains(normalized, phrases):
            return ScriptedReply(Intent.SAFETY, SAFETY_REPLY, safety_category=category)
    if _CARD_NUMBER.search(text) or _SSN.search(text):
        return ScriptedReply(Intent.SENSITIVE_DATA, REPLIES[Intent.SENSITIVE_DATA])
    for intent, phrases in _RULES:
        if _contains(normalized, phrases):
            return ScriptedReply(intent, REPLIES[intent])
    return ScriptedReply(Intent.OFF_TOPIC, REPLIES[Intent.OFF_TOPIC])


def _contains(normalized: str, phrases: tuple[str, ...]) -> bool:
    for phrase in phrases:
        # Short single words match whole words only ("hi" is not in "this", "sue" not in
        # "issue"); longer words and phrases also match as prefixes ("diagnos" -> diagnose).
        if phrase.isalpha() and len(phrase) <= 5:
            if re.search(rf"\b{re.escape(phrase)}\b", normalized):
                return True
        elif phrase in normalized:
            return True
    return False
