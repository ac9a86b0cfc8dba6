"""Per-recognizer behaviour, through the Redactor so offsets are checked on the original text."""

from __future__ import annotations

import pytest

from control_plane.privacy.redaction import EntityType, Redactor
from control_plane.privacy.redaction.numeric import (
    DigitSequenceRecognizer,
    classify_digits,
    iban_valid,
    luhn_valid,
)
from control_plane.privacy.redaction.recognizer import Context

T = EntityType


def found(redactor: Redactor, text: str) -> set[tuple[EntityType, str]]:
    return {(e.type, text[e.start : e.end]) for e in redactor.redact(text).entities}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("my number is 312 555 0198 thanks", "312 555 0198"),
        ("call (646) 555-0143 please", "(646) 555-0143"),
        ("it's four one five, two one three, eight eight four two.", None),
        ("reach me at seven oh eight double five three one two oh four", None),
        ("it's two one two, triple five, four nine oh oh.", None),
        ("my cell is 555 one two one two", "555 one two one two"),
        ("it's +44 20 7946 0958 in London", "+44 20 7946 0958"),
        ("the office is 212.555.0188", "212.555.0188"),
    ],
)
def test_phone_numbers_in_spoken_and_written_forms(
    redactor: Redactor, text: str, value: str | None
) -> None:
    types = {t for t, _ in found(redactor, text)}
    assert types == {T.PHONE_NUMBER}
    if value is not None:
        assert (T.PHONE_NUMBER, value) in found(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1111 please",
        "it's 4000 1234 5678 9010",  # fails Luhn: still a card
        "okay 5105 1051 0510 5100 0827 that last part was the expiry",  # merged expiry
        "an amex, three seven eight two, eight two two four six three, one zero zero zero five",
        "debit four oh two four, double oh seven one, two three four five, six seven eight nine",
    ],
)
def test_any_thirteen_to_nineteen_digit_run_is_a_card(redactor: Redactor, text: str) -> None:
    assert {t for t, _ in found(redactor, text)} == {T.CREDIT_CARD}


@pytest.mark.parametrize(
    "text",
    [
        "my social is five three one, two two, oh nine one four",
        "SSN 078-05-1120",
        "social security number is six two eight four four one nine oh seven",
        "my ssn is five five five dash six two dash one one one one",
    ],
)
def test_social_security_numbers(redactor: Redactor, text: str) -> None:
    assert {t for t, _ in found(redactor, text)} == {T.US_SSN}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("I live at twelve thirty four Elm Street now", "twelve thirty four Elm Street"),
        ("send it to 1234 Oak Avenue Apt 5 please", "1234 Oak Avenue Apt 5"),
        ("pick up at 880 Martin Luther King Jr. Boulevard", "880 Martin Luther King Jr. Boulevard"),
        ("it's four hundred twelve south broadway", "four hundred twelve south broadway"),
        ("at 450 West 57th Street", "450 West 57th Street"),
    ],
)
def test_street_addresses_with_spoken_house_numbers(
    redactor: Redactor, text: str, value: str
) -> None:
    assert (T.STREET_ADDRESS, value) in found(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "I was born on March third, nineteen eighty five",
        "date of birth 07/14/1990",
        "DOB is oh three fifteen eighty five",
        "my birthday's July fourth",
        "born the twenty third of June, two thousand one",
    ],
)
def test_dates_of_birth_need_a_birth_keyword(redactor: Redactor, text: str) -> None:
    assert T.DATE_OF_BIRTH in {t for t, _ in found(redactor, text)}


def test_a_date_without_birth_context_is_not_a_date_of_birth(redactor: Redactor) -> None:
    assert found(redactor, "The appointment is on March third at two fifteen.") == set()
    assert found(redactor, "I was born in nineteen ninety, so I'm thirty four.") == set()


@pytest.mark.parametrize(
    "text",
    [
        "routing number zero two one zero zero zero zero two one",
        "my checking account number is 000123456789",
        "the account number is double seven three four, five five one nine, oh two",
    ],
)
def test_bank_account_and_routing_numbers(redactor: Redactor, text: str) -> None:
    assert {t for t, _ in found(redactor, text)} == {T.BANK_ACCOUNT}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("it's john dot smith at gmail dot com.", "john dot smith at gmail dot com"),
        ("send it to dan.ortiz@outlook.com please", "dan.ortiz@outlook.com"),
        ("it's maria underscore lopez eighty seven at yahoo dot com", None),
        ("email billing dash team at northwind dot io", "billing dash team at northwind dot io"),
        ("mine is a dot chen at company dot co dot uk", "a dot chen at company dot co dot uk"),
    ],
)
def test_spelled_and_written_email_addresses(
    redactor: Redactor, text: str, value: str | None
) -> None:
    got = found(redactor, text)
    assert {t for t, _ in got} == {T.EMAIL_ADDRESS}
    if value is not None:
        assert (T.EMAIL_ADDRESS, value) in got


def test_ip_addresses_and_ibans(redactor: Redactor) -> None:
    assert found(
        redactor, "the gateway is one ninety two dot one sixty eight dot zero dot one"
    ) == {(T.IP_ADDRESS, "one ninety two dot one sixty eight dot zero dot one")}
    assert found(redactor, "IPv6 2001:db8::ff00:42:8329 here") == {
        (T.IP_ADDRESS, "2001:db8::ff00:42:8329")
    }
    assert found(redactor, "wire it to GB82 WEST 1234 5698 7654 32, thanks") == {
        (T.IBAN, "GB82 WEST 1234 5698 7654 32")
    }


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi, my name is Grace Kim and I'm the account holder.", "Grace Kim"),
        ("This is Tanya speaking.", "Tanya"),
        ("Hi Will, I have your ticket open.", "Will"),
        ("Okay Mr. Thompson, I see two lines.", "Thompson"),
        ("Hi, Rebecca here from Greenleaf Florists.", "Rebecca"),
        ("hi this is brandon from the pharmacy", "brandon"),
    ],
)
def test_person_names_from_introductions(redactor: Redactor, text: str, name: str) -> None:
    assert (T.PERSON, name) in found(redactor, text)


def test_spelled_out_names(redactor: Redactor) -> None:
    got = found(redactor, "It's Carla, C A R L A, and spelled J O H N for my husband.")
    assert (T.PERSON, "C A R L A") in got
    assert (T.PERSON, "J O H N") in got


@pytest.mark.parametrize(
    "text",
    [
        "I picked it up at the Walgreens on Fifth Avenue.",
        "We're the restaurant on Martin Luther King Jr. Boulevard.",
        "Will that be on the card ending in 4242?",
        "May I have a moment to check with my manager?",
        "There's a grace period of ten days.",
        "I'd like to dispute the bill from May.",
        "Your total is twenty nine ninety nine plus tax.",
        "Can we do five thirty instead?",
        "My order 4471 never arrived.",
        "I've been a customer since 2009.",
        "Thank you for calling Trattoria Bella, how can I help?",
        "The part number is 6 6 1 dash 0 4 2 2.",
        "Tracking number 9400 1118 9922 3856 9284 99, out for delivery.",
    ],
)
def test_hard_negatives_are_left_alone(redactor: Redactor, text: str) -> None:
    assert found(redactor, text) == set()


def test_digit_classification_prefers_grouping_over_a_distant_keyword() -> None:
    bank = Context("bank", 4)
    assert classify_digits("531220914", [3, 2, 4], bank, plus=False) == (
        T.US_SSN,
        0.9,
    )
    assert classify_digits("4152138842", [3, 3, 4], bank, plus=False) == (T.PHONE_NUMBER, 0.9)
    assert classify_digits("4152138842", [10], bank, plus=False) == (T.BANK_ACCOUNT, 0.9)
    assert classify_digits("4471229", [7], Context("negative", 3), plus=False) is None


def test_checksums() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4000123456789010")
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("GB82WEST12345698765433")


def test_recognizer_reports_only_requested_entities() -> None:
    recognizer = DigitSequenceRecognizer()
    text = "call 312 555 0198"
    assert recognizer.analyze(text, ["CREDIT_CARD"]) == []
    (result,) = recognizer.analyze(text, ["PHONE_NUMBER"])
    assert (result.entity_type, text[result.start : result.end]) == ("PHONE_NUMBER", "312 555 0198")
