"""The anomaly monitor: owned by the lifespan, called where the events flow (after a
successful mint, on every authentication failure). A few counter increments in the shared
limiter storage per event; the database is touched only when a detector fires."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.config import RiskSettings
from control_plane.logs import get_logger
from control_plane.risk.detectors import (
    Counters,
    Finding,
    MintRateRule,
    ThresholdRule,
    observe_auth_failure,
    observe_mint_rate,
    observe_session_fanout,
)
from control_plane.risk.limiter import LimiterUnavailable
from control_plane.risk.responses import SubjectEvictor, respond
from control_plane.risk.tables import Anomaly
from control_plane.risk.types import AnomalyResponse, DetectorRule

_log = get_logger("control_plane.risk")


@dataclass(frozen=True)
class DetectionRules:
    """The detectors' thresholds and the configured response of each rule."""

    mint: MintRateRule
    auth_failures: ThresholdRule
    session_fanout: ThresholdRule
    responses: Mapping[DetectorRule, AnomalyResponse]
    enabled: bool = True

    @classmethod
    def from_settings(cls, settings: RiskSettings) -> DetectionRules:
        return cls(
            mint=MintRateRule(
                window_seconds=settings.mint_window_seconds,
                baseline_windows=settings.mint_baseline_windows,
                alpha=settings.mint_ewma_alpha,
                floor=settings.mint_floor,
                factor=settings.mint_factor,
            ),
            auth_failures=ThresholdRule(
                DetectorRule.AUTH_FAILURES,
                settings.auth_failure_window_seconds,
                settings.auth_failure_threshold,
            ),
            session_fanout=ThresholdRule(
                DetectorRule.SESSION_FANOUT,
                settings.session_fanout_window_seconds,
                settings.session_fanout_threshold,
            ),
            responses=dict(settings.responses),
            enabled=settings.detection_enabled,
        )

    def response_for(self, rule: DetectorRule) -> AnomalyResponse:
        return self.responses.get(rule, AnomalyResponse.ALERT)


class RiskMonitor:
    """Runs the detectors on event streams and applies the configured responses.

    Detection fails open: a counter store that cannot answer is logged and the request
    goes on (the rate limits in front of it already fail closed).
    """

    def __init__(
        self, counters: Counters, rules: DetectionRules, *, evict: SubjectEvictor | None = None
    ) -> None:
        self._counters = counters
        self.rules = rules
        self._evict = evict

    def with_evictor(self, evict: SubjectEvictor) -> RiskMonitor:
        """The same monitor, removing locked subjects from LiveKit through ``evict``."""
        return RiskMonitor(self._counters, self.rules, evict=evict)

    async def observe_mint(
        self,
        tx: AsyncSession,
        *,
        subject_id: str,
        tenant: str,
        session_id: str,
        request_id: str | None,
        now: datetime,
    ) -> list[Anomaly]:
        """After a successful mint: mint rate and session fan-out of the subject."""
        if not self.rules.enabled:
            return []
        timestamp = now.timestamp()
        try:
            findings = [
                await observe_mint_rate(
                    self._counters, subject_id=subject_id, timestamp=timestamp, rule=self.rules.mint
                ),
                await observe_session_fanout(
                    self._counters,
                    subject_id=subject_id,
                    session_id=session_id,
                    timestamp=timestamp,
                    rule=self.rules.session_fanout,
                ),
            ]
        except LimiterUnavailable:
            _log.warning("risk.detection_unavailable", service="mint")
            return []
        return [
            await self._respond(
                tx,
                finding,
                subject_id=subject_id,
                tenant=tenant,
                session_id=session_id,
                request_id=request_id,
                now=now,
            )
            for finding in findings
            if finding is not None
        ]

    async def observe_auth_failure(
        self, tx: AsyncSession, *, address_key: str, request_id: str | None, now: datetime
    ) -> Anomaly | None:
        """On an authentication failure: failures per client address (a keyed hash)."""
        if not self.rules.enabled:
            return None
        try:
            finding = await observe_auth_failure(
                self._counters,
                address_key=address_key,
                timestamp=now.timestamp(),
                rule=self.rules.auth_failures,
            )
        except LimiterUnavailable:
            _log.warning("risk.detection_unavailable", service="auth")
            return None
        if finding is None:
            return None
        return await self._respond(
            tx,
            finding,
            subject_id=None,
            tenant=None,
            session_id=None,
            request_id=request_id,
            now=now,
        )

    async def _respond(
        self,
        tx: AsyncSession,
        finding: Finding,
        *,
        subject_id: str | None,
        tenant: str | None,
        session_id: str | None,
        request_id: str | None,
        now: datetime,
    ) -> Anomaly:
        anomaly = await respond(
            tx,
            finding=finding,
            response=self.rules.response_for(finding.rule),
            subject_id=subject_id,
            tenant=tenant,
            session_id=session_id,
            request_id=request_id,
            now=now,
            evict=self._evict,
        )
        _log.warning(
            "risk.anomaly",
            reason=finding.rule.value,
            state=anomaly.response,
            subject=subject_id,
            event_id=anomaly.id,
        )
        return anomaly
