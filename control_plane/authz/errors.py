"""Errors of the authorization domain."""

from __future__ import annotations

from control_plane.errors import Forbidden, Invalid, Unavailable


class PolicySetInvalid(Invalid):
    """A policy set failed to parse or to validate in STRICT mode; nothing was swapped in.

    `problems` lists each parse or validation error as `file-or-policy-id: message`; policy
    text is not secret, so the list is safe to show to the admin who uploaded the set.
    """

    code = "policy_set_invalid"
    default_message = "the policy set is invalid"

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__(f"{self.default_message}: " + "; ".join(problems))
        self.problems = problems


class PolicySetUnavailable(Unavailable):
    """No valid policy set is loaded, so no decision can be made (fail closed)."""

    code = "policy_set_unavailable"
    default_message = "no policy set is loaded"


class AccessDenied(Forbidden):
    """A decision denied the request; carries the decision id the client may quote."""

    code = "access_denied"
    default_message = "not allowed by policy"

    def __init__(self, decision_id: str) -> None:
        super().__init__(f"{self.default_message} (decision {decision_id})")
        self.decision_id = decision_id


class PolicyCaseInvalid(Invalid):
    """A policy test case or an explain request body does not describe a valid request."""

    code = "policy_case_invalid"
    default_message = "invalid authorization request description"
