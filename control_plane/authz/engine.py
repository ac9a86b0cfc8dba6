"""Policy set loading, STRICT validation, versioning and the lifespan-owned store.

A `PolicySnapshot` is immutable and holds pre-parsed cedarpy handles (`PolicySet`,
`Schema`), so deciding never re-parses policies or schema. `PolicyStore` swaps in a whole new
snapshot on reload, or keeps the old one and raises: there is never a half-loaded set.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cedarpy

from control_plane.authz.errors import PolicySetInvalid, PolicySetUnavailable
from control_plane.authz.memo import DecisionMemo
from control_plane.authz.types import PolicyVersion

SCHEMA_FILE = "schema.cedarschema"
POLICY_SUFFIX = ".cedar"


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """One policy of a snapshot: its stable `@id`, effect and source file."""

    policy_id: str
    effect: str
    file: str


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """An immutable, validated policy set; build it with `build_snapshot` or `load_snapshot`."""

    version: PolicyVersion
    files: tuple[tuple[str, str], ...]
    schema_text: str
    policy_set: cedarpy.PolicySet
    schema: cedarpy.Schema
    policies: tuple[PolicyInfo, ...]
    memo: DecisionMemo = field(default_factory=DecisionMemo, init=False, compare=False, repr=False)

    def find_policy(self, policy_id: str) -> PolicyInfo | None:
        """Return the policy with this `@id`, or None."""
        return next((p for p in self.policies if p.policy_id == policy_id), None)


def compute_version(files: Mapping[str, str], schema_text: str) -> PolicyVersion:
    """Return a content hash over sorted file names, their contents and the schema.

    Each field is length-prefixed, so no two different sets can frame to the same bytes.
    """
    digest = hashlib.sha256()
    for name, text in [*sorted(files.items()), (SCHEMA_FILE, schema_text)]:
        for part in (name.encode(), text.encode()):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return PolicyVersion("sha256:" + digest.hexdigest())


def _file_policies(name: str, text: str, problems: list[str]) -> list[PolicyInfo]:
    try:
        # Serialisation edge: cedarpy returns the policy set as Cedar JSON (EST).
        est = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        problems.append(f"{name}: {exc}")
        return []
    if est.get("templates"):
        problems.append(f"{name}: templates are not supported in policy files")
    found: list[PolicyInfo] = []
    for positional_id, body in est.get("staticPolicies", {}).items():
        policy_id = body.get("annotations", {}).get("id") or ""
        if not policy_id:
            problems.append(f"{name}: policy {positional_id} has no @id annotation")
            continue
        found.append(PolicyInfo(policy_id=policy_id, effect=str(body["effect"]), file=name))
    return found


def _collect_policies(files: Mapping[str, str], problems: list[str]) -> tuple[PolicyInfo, ...]:
    policies: list[PolicyInfo] = []
    seen: dict[str, str] = {}
    for name, text in sorted(files.items()):
        for info in _file_policies(name, text, problems):
            if info.policy_id in seen:
                problems.append(
                    f"{name}: duplicate @id {info.policy_id!r} (also in {seen[info.policy_id]})"
                )
            seen[info.policy_id] = name
            policies.append(info)
    if not policies and not problems:
        problems.append("no policies: a policy set needs at least one *.cedar policy")
    return tuple(policies)


def _validate(combined: str, schema: cedarpy.Schema) -> list[str]:
    result = cedarpy.validate_policies(combined, schema)
    names = result.id_annotations_by_policy_id
    return [
        f"{names.get(e.policy_id, e.policy_id) or 'policy set'}: {e.error}" for e in result.errors
    ]


def build_snapshot(files: Mapping[str, str], schema_text: str) -> PolicySnapshot:
    """Return a snapshot only if every file parses, every policy has a unique @id and the set
    validates against the schema in STRICT mode; otherwise raise `PolicySetInvalid` listing
    every problem found.
    """
    problems: list[str] = []
    try:
        schema = cedarpy.Schema.from_str(schema_text)
    except ValueError as exc:
        raise PolicySetInvalid((f"{SCHEMA_FILE}: {exc}",)) from exc
    policies = _collect_policies(files, problems)
    if problems:
        raise PolicySetInvalid(tuple(problems))
    combined = "\n".join(text for _, text in sorted(files.items()))
    problems.extend(_validate(combined, schema))
    if problems:
        raise PolicySetInvalid(tuple(problems))
    try:
        policy_set = cedarpy.PolicySet.from_str(combined)
    except ValueError as exc:
        raise PolicySetInvalid((f"policy set: {exc}",)) from exc
    return PolicySnapshot(
        version=compute_version(files, schema_text),
        files=tuple(sorted(files.items())),
        schema_text=schema_text,
        policy_set=policy_set,
        schema=schema,
        policies=policies,
    )


def read_policy_files(directory: Path) -> tuple[dict[str, str], str]:
    """Return the `*.cedar` files (by name) and the schema text of a policy directory."""
    try:
        files = {
            path.name: path.read_text(encoding="utf-8")
            for path in sorted(directory.glob(f"*{POLICY_SUFFIX}"))
            if path.is_file()
        }
        schema_text = (directory / SCHEMA_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicySetInvalid((f"{directory.name}: cannot read policy files ({exc})",)) from exc
    return files, schema_text


def load_snapshot(directory: Path) -> PolicySnapshot:
    """Read and validate a policy directory; raise `PolicySetInvalid` if anything is wrong."""
    files, schema_text = read_policy_files(directory)
    return build_snapshot(files, schema_text)


class PolicyStore:
    """Lifespan-owned holder of the current snapshot; swaps are whole and serialised.

    Readers take `current` without locking: replacing one reference is atomic, and every
    snapshot is immutable, so a decision sees either the old set or the new one, never a mix.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: PolicySnapshot | None = None
        self._directory: Path | None = None

    @classmethod
    def open(cls, directory: Path) -> PolicyStore:
        """Return a store holding the validated set in `directory`, or raise (refuse to start)."""
        store = cls()
        store.load(directory)
        return store

    @property
    def current(self) -> PolicySnapshot:
        """The snapshot to decide with; raises `PolicySetUnavailable` when none is loaded."""
        snapshot = self._snapshot
        if snapshot is None:
            raise PolicySetUnavailable()
        return snapshot

    @property
    def directory(self) -> Path | None:
        """The directory the current set was loaded from."""
        return self._directory

    def load(self, directory: Path) -> PolicySnapshot:
        """Validate `directory` and make it current; on any problem raise and keep the old set."""
        with self._lock:
            snapshot = load_snapshot(directory)
            self._snapshot = snapshot
            self._directory = directory
            return snapshot

    def reload(self) -> PolicySnapshot:
        """Re-read the current directory; on any problem raise and keep the old set."""
        directory = self._directory
        if directory is None:
            raise PolicySetUnavailable("no policy directory has been loaded")
        return self.load(directory)
