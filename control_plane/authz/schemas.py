"""Wire contract of the policy endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DecideRequest(BaseModel):
    """A hypothetical request, in the same shape as the policy test cases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Any: free-form entity descriptions, validated by authz.cases.parse_request.
    principal: dict[str, Any]
    action: str = Field(max_length=64)
    resource: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)


class PolicyOut(BaseModel):
    policy_id: str
    effect: str
    file: str


class DecideResponse(BaseModel):
    decision_id: str
    action: str
    allowed: bool
    determining_policies: list[PolicyOut]
    reasons: list[str]
    errors: list[str]
    policy_version: str


class PolicySetOut(BaseModel):
    version: str
    policies: list[PolicyOut]
