"""Transcript PII redaction: a pure engine over Presidio with a spoken-number normaliser."""

from control_plane.privacy.redaction.engine import Redactor
from control_plane.privacy.redaction.placeholder import PlaceholderMap
from control_plane.privacy.redaction.types import Entity, EntityType, RedactionResult

__all__ = ["Entity", "EntityType", "PlaceholderMap", "RedactionResult", "Redactor"]
