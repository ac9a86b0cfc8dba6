"""The threats, each with its mitigation and the tests that prove it.

Identifiers are cited in code comments (``T-LOG-1`` …) where a line exists because of one.
"""

from __future__ import annotations

from threat_model.model import Stride, Threat

_BEARER = "tests/security/identity/test_bearer_attacks.py"
_LOGIN = "tests/integration/identity/test_browser_login.py"
_BEARER_CACHE = "tests/unit/identity/test_verified_token_cache.py"
_JOIN = "tests/integration/sessions/test_join_policies.py"
_MINT = "tests/integration/sessions/test_mint_flow.py"
_AUDIT_VERIFY = "tests/integration/audit/test_verify.py"
_WEBHOOK = "tests/integration/livekit/test_webhook_intake.py"
_WEBHOOK_UNIT = "tests/unit/livekit/test_webhook.py"
_JOIN_AUDIT = "tests/integration/livekit/test_join_auditing.py"
_TRANSCRIPTS = "tests/integration/privacy/test_transcripts.py"
_ERASURE = "tests/integration/privacy/test_erasure.py"
_RETENTION = "tests/integration/privacy/test_retention.py"
_AGENTS_E2E = "tests/e2e/test_agents.py"
_SUPERVISOR = "tests/integration/agents/test_supervisor.py"
_RATE = "tests/integration/risk/test_rate_limits.py"
_ANOMALY = "tests/integration/risk/test_anomalies.py"
_POLICY = "tests/integration/authz/test_policy_admin.py"
_AUTHZ_UNIT = "tests/unit/authz/test_service.py"
_CONTRACT = "tests/security/test_api_contract.py"
_WEBHOOK_PROPS = "tests/unit/livekit/test_webhook_properties.py"
_CLAIMS_PROPS = "tests/unit/identity/test_claims_properties.py"
_ENTITY_PROPS = "tests/unit/authz/test_entities_properties.py"
_NORMALISE_PROPS = "tests/unit/privacy/redaction/test_normalise_properties.py"
_LEAK_SCAN = "tests/unit/foundation/test_secret_scan.py"

THREATS: tuple[Threat, ...] = (
    Threat(
        id="T-ID-1",
        title="Forged bearer token (alg none, HS256 keyed with the IdP public key, unknown kid)",
        category=Stride.SPOOFING,
        asset="caller identity",
        entry_point="Authorization: Bearer on every API route",
        mitigation="Algorithm allowlist (RS256/ES256/EdDSA), kid must be published by the "
        "exact issuer's JWKS, signature verified with the key's own algorithm; one generic 401.",
        tests=(f"{_BEARER}::test_attack_gets_the_generic_401_and_is_audited",),
        references=("RFC 8725 §3.1-3.2", "ASVS 9.1.1-9.1.3"),
    ),
    Threat(
        id="T-ID-2",
        title="A valid token of the wrong kind or for the wrong party used as a bearer",
        category=Stride.SPOOFING,
        asset="caller identity",
        entry_point="Authorization: Bearer",
        mitigation="Exact iss, our audience only, typ at+jwt where present; ID tokens, LiveKit "
        "tokens, client-credentials tokens and session cookies are refused.",
        tests=(f"{_BEARER}::test_attack_gets_the_generic_401_and_is_audited",),
        references=("RFC 8725 §3.11-3.12", "ASVS 9.2.2-9.2.4"),
    ),
    Threat(
        id="T-ID-3",
        title="Expired, not-yet-valid or future-issued tokens accepted",
        category=Stride.SPOOFING,
        asset="caller identity",
        entry_point="Authorization: Bearer",
        mitigation="exp required; exp/nbf/iat checked against the injected clock with 30 s "
        "leeway, also on every use of a token served from the verified-token cache (which keys "
        "by SHA-256, caches successes only and drops a token whose key is no longer published).",
        tests=(
            f"{_BEARER}::test_attack_gets_the_generic_401_and_is_audited",
            f"{_BEARER_CACHE}::test_a_cached_token_still_expires",
            f"{_BEARER_CACHE}::test_a_key_the_issuer_stops_publishing_voids_its_cached_tokens",
        ),
        references=("ASVS 9.2.1",),
    ),
    Threat(
        id="T-ID-4",
        title="Login CSRF, state swap, code injection or callback replay",
        category=Stride.SPOOFING,
        asset="browser session",
        entry_point="/auth/callback",
        mitigation="Server-side pending login keyed by the state's hash, consumed once; PKCE "
        "S256 verifier and nonce bound to that pending login.",
        tests=(
            f"{_LOGIN}::test_state_mismatch_and_replay_fail",
            f"{_LOGIN}::test_code_bound_to_another_login_fails_pkce_and_nonce",
            f"{_LOGIN}::test_id_token_with_another_nonce_is_rejected",
        ),
        references=("RFC 9700 §2.1", "ASVS 10.1.2, 10.2.1, 10.5.1"),
    ),
    Threat(
        id="T-ID-5",
        title="authlib silently performs a client_credentials grant on a callback without code",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="browser session",
        entry_point="/auth/callback?error=… or no code",
        mitigation="error and code are checked before authlib is asked for a token.",
        tests=(
            f"{_LOGIN}::test_callback_without_code_never_falls_back_to_client_credentials",
            f"{_LOGIN}::test_access_denied_at_the_idp_is_a_failed_login",
        ),
    ),
    Threat(
        id="T-ID-6",
        title="Session fixation, theft or CSRF on cookie-authenticated requests",
        category=Stride.SPOOFING,
        asset="browser session",
        entry_point="session cookie",
        mitigation="New 256-bit opaque id per login, stored hashed; HttpOnly, SameSite=Lax, "
        "__Host- and Secure over https; idle and absolute timeouts; per-session CSRF token "
        "for state-changing requests; users list and revoke their sessions.",
        tests=(
            f"{_LOGIN}::test_login_creates_a_session_that_can_mint_with_csrf",
            f"{_LOGIN}::test_browser_sessions_can_be_listed_and_revoked",
        ),
        references=("ASVS 7.2.3, 7.2.4, 7.5.2",),
    ),
    Threat(
        id="T-TOK-1",
        title="Over-privileged LiveKit token (SDK defaults grant publish, subscribe, data)",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="live session media",
        entry_point="POST /v1/sessions, POST /v1/sessions/{id}/token",
        mitigation="Grants computed from Cedar decisions only, every grant explicit, explicit "
        "publish sources; never roomAdmin/roomCreate/agent/hidden/recorder/canUpdateOwnMetadata.",
        tests=(
            f"{_MINT}::test_member_creates_session_and_gets_least_privilege_token",
            f"{_JOIN}::test_member_token_joins_its_room_with_microphone_only",
            f"{_JOIN}::test_video_is_granted_only_where_the_session_allows_it",
        ),
        references=("livekit.md §1",),
    ),
    Threat(
        id="T-TOK-2",
        title="Joining another tenant's or an uninvited session",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="live session media",
        entry_point="POST /v1/sessions/{id}/token",
        mitigation="Cedar forbids tenant mismatch; membership by single-use invite; room names "
        "are 144 random bits; policy re-run on every mint.",
        tests=(
            f"{_JOIN}::test_uninvited_and_cross_tenant_users_are_denied",
            f"{_JOIN}::test_invite_admits_a_same_tenant_member_only",
        ),
    ),
    Threat(
        id="T-TOK-3",
        title="Long-lived or never-expiring join tokens",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="live session media",
        entry_point="token requests",
        mitigation="TTL default 120 s, capped at 600 s by settings and validator; nbf = now; "
        "exp always set (LiveKit v1.13.5 accepts tokens without exp).",
        tests=(f"{_JOIN}::test_ttl_is_bounded",),
    ),
    Threat(
        id="T-TOK-4",
        title="A token leaves the service without a ledger row or audit record",
        category=Stride.REPUDIATION,
        asset="mint ledger, audit log",
        entry_point="mint path",
        mitigation="Ledger row and audit record in the same transaction as the mint; any store "
        "failure is a 503 and no token (fail closed).",
        tests=(f"{_JOIN}::test_audit_write_failure_means_no_token_and_503",),
    ),
    Threat(
        id="T-AUTHZ-1",
        title="A policy evaluation error lets a permit through",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="every decision",
        entry_point="Cedar engine",
        mitigation="Any evaluation error turns the answer into a deny; engine exceptions deny "
        "the whole batch; errors are never memoised.",
        tests=(
            f"{_AUTHZ_UNIT}::test_an_erroring_forbid_does_not_let_a_permit_through",
            f"{_AUTHZ_UNIT}::test_engine_exception_denies_every_request_of_the_batch",
            f"{_ENTITY_PROPS}::test_the_real_engine_decides_on_any_slice_and_fails_closed",
        ),
    ),
    Threat(
        id="T-AUTHZ-2",
        title="An invalid or unauthorised policy reload opens access",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="policy set",
        entry_point="POST /v1/policies/reload, SIGHUP",
        mitigation="STRICT validation before an atomic swap, old set kept on failure; reload "
        "needs admin with MFA; every reload attempt audited.",
        tests=(
            f"{_POLICY}::test_reload_needs_admin_with_mfa_and_an_invalid_set_keeps_the_old",
            f"{_POLICY}::test_sighup_reloads_and_audits",
        ),
    ),
    Threat(
        id="T-AUTHZ-3",
        title="An attacker-chosen id or group name (quotes, '::', Cedar syntax) injects into "
        "the Cedar request or entities",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="authorisation decisions",
        entry_point="subject, tenant, session and group values reaching authz/entities.py",
        mitigation="Structured JSON uids only (never Cedar text), ids passed through "
        "verbatim; the slice carries every parent it names; Hypothesis checks both.",
        tests=(
            f"{_ENTITY_PROPS}::test_the_entity_slice_is_self_contained_json_with_ids_passed_through",
            f"{_ENTITY_PROPS}::test_the_real_engine_decides_on_any_slice_and_fails_closed",
        ),
    ),
    Threat(
        id="T-WH-1",
        title="Forged, tampered, expiry-less or stale LiveKit webhooks",
        category=Stride.SPOOFING,
        asset="join auditing",
        entry_point="POST /webhooks/livekit",
        mitigation="HS256 (PyJWT, HS256 only) over the raw body's sha256 with the webhook "
        "key, iss/exp/nbf checked, exp required, createdAt window, size limit; accepts what "
        "livekit-api's WebhookReceiver accepts; rejections audited with no side effects.",
        tests=(
            f"{_WEBHOOK}::test_forged_and_bad_deliveries_are_refused_audited_and_leave_nothing",
            f"{_WEBHOOK_UNIT}::test_token_claims_are_checked_after_the_signature",
            f"{_WEBHOOK_UNIT}::test_it_reads_what_livekit_apis_receiver_reads",
            f"{_WEBHOOK_PROPS}::test_unsigned_deliveries_are_refused_with_a_reason",
            f"{_WEBHOOK_PROPS}::test_a_body_changed_after_signing_is_refused",
        ),
        references=("livekit.md §2",),
    ),
    Threat(
        id="T-WH-2",
        title="Replayed or duplicated webhooks double-count or re-trigger actions",
        category=Stride.TAMPERING,
        asset="join auditing",
        entry_point="POST /webhooks/livekit",
        mitigation="Event id unique; stored once before the 2xx; processing idempotent.",
        tests=(
            f"{_WEBHOOK}::test_replayed_id_is_acknowledged_without_side_effects",
            f"{_WEBHOOK}::test_a_thousand_duplicate_deliveries_make_one_record",
        ),
    ),
    Threat(
        id="T-WH-3",
        title="Lost webhooks hide a join (drops at 30 s age, 200 depth, process crash)",
        category=Stride.REPUDIATION,
        asset="join auditing",
        entry_point="LiveKit delivery",
        mitigation="Durable insert before 2xx, acknowledged first (processing yields to "
        "arriving deliveries, so a storm slows auditing, never the 2xx LiveKit's queues "
        "depend on); a reconciler lists participants of active sessions every 5 s, "
        "independently of the webhook queue, and applies the same correlation.",
        tests=(
            "tests/integration/livekit/test_webhook_durability.py::"
            "test_kill_9_during_a_burst_loses_no_acknowledged_event",
            f"{_JOIN_AUDIT}::test_reconciler_catches_a_forged_join_when_webhooks_are_lost",
        ),
    ),
    Threat(
        id="T-JOIN-1",
        title="A participant joins with a token the control plane did not mint (leaked secret)",
        category=Stride.SPOOFING,
        asset="live session media",
        entry_point="LiveKit signalling",
        mitigation="Every join must match a ledger row (identity, cp.tid, validity, grants) or "
        "a dispatch we created; anything else has its permissions cut and is removed.",
        tests=(
            f"{_JOIN_AUDIT}::test_forged_join_is_removed_within_two_seconds_and_a_minted_join_stays",
        ),
    ),
    Threat(
        id="T-JOIN-2",
        title="A removed or locked participant rejoins with a refreshed token",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="live session media",
        entry_point="LiveKit reconnect",
        mitigation="RemoveParticipant does not revoke: a re-kick list removes the identity again "
        "on sight; locked subjects are removed from every room.",
        tests=(
            f"{_JOIN_AUDIT}::test_lock_removes_live_participant_within_one_second_and_rejoin_is_removed_again",
        ),
        references=("livekit/livekit#2804",),
    ),
    Threat(
        id="T-JOIN-3",
        title="Tracks or grants beyond what was minted; duplicate identity takeover",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="live session media",
        entry_point="track_published, participant_left(DUPLICATE_IDENTITY)",
        mitigation="Published sources must be granted; duplicate-identity disconnects are "
        "anomalies (token theft signal).",
        tests=(
            f"{_WEBHOOK}::test_minted_join_is_explained_and_an_ungranted_track_is_an_over_grant",
            f"{_WEBHOOK}::test_left_before_joined_and_duplicate_identity",
        ),
    ),
    Threat(
        id="T-AUD-1",
        title="Silent edit, deletion or truncation of audit records",
        category=Stride.TAMPERING,
        asset="audit log",
        entry_point="database access",
        mitigation="SHA-256 hash chain, Ed25519 checkpoints over start and head, verify names "
        "the first bad record; retention purges only a checkpointed prefix.",
        tests=(
            f"{_AUDIT_VERIFY}::test_sql_update_of_one_row_is_named_by_the_cli",
            f"{_AUDIT_VERIFY}::test_edited_row_with_recomputed_hashes_is_caught_by_the_checkpoint",
            f"{_AUDIT_VERIFY}::test_deleted_row_mid_chain_is_named",
            f"{_AUDIT_VERIFY}::test_checkpoint_claiming_a_later_head_finds_a_truncated_tail",
            "tests/integration/audit/test_retention.py::test_prefix_deleted_without_the_purge_path_is_found",
        ),
        references=("ASVS 16.4.2",),
    ),
    Threat(
        id="T-AUD-2",
        title="Concurrent writers or replicas fork the audit chain",
        category=Stride.REPUDIATION,
        asset="audit log",
        entry_point="append path",
        mitigation="Transaction-scoped advisory lock on PostgreSQL; write lock on SQLite.",
        tests=(
            "tests/integration/audit/test_chain_concurrency.py::test_concurrent_writers_keep_one_linear_chain",
        ),
    ),
    Threat(
        id="T-AUD-3",
        title="A leaked audit signing key vouches for a rewritten chain",
        category=Stride.TAMPERING,
        asset="audit log",
        entry_point="audit signing key material",
        mitigation="The key is rotatable (keys rotate-audit-key or settings): the chain is "
        "signed with the old key first, the retired public key stays trusted only for "
        "checkpoints before its successor's first; later ones it signs are refused.",
        tests=(
            "tests/integration/audit/test_key_rotation.py::test_a_retired_key_cannot_vouch_after_its_successor_signed",
            "tests/integration/audit/test_key_rotation.py::test_rotation_keeps_old_checkpoints_verifying_and_signs_with_the_new_key",
        ),
        references=("ASVS 16.4.2", "ASVS 11.2.1"),
    ),
    Threat(
        id="T-AUD-4",
        title="A database writer cuts the chain's tail together with the checkpoints over it",
        category=Stride.TAMPERING,
        asset="audit log",
        entry_point="database access",
        mitigation="Every checkpoint is also appended to a witness file outside the database "
        "(audit.witness_file: append-only or write-once storage); verification (CLI and API) "
        "names each witnessed checkpoint the database no longer holds or no longer matches.",
        tests=(
            "tests/integration/audit/test_witness.py::test_a_tail_cut_with_its_checkpoint_is_invisible_to_the_chain_but_not_the_witness",
            "tests/integration/audit/test_witness.py::test_records_cut_under_a_witnessed_checkpoint_are_named",
            "tests/integration/audit/test_routes.py::test_verify_endpoint_reports_for_auditors",
        ),
        references=("ASVS 16.4.2", "ASVS 16.4.3"),
    ),
    Threat(
        id="T-LOG-1",
        title="Tokens, secrets, cookies or PII written to logs",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="credentials, personal data",
        entry_point="every log line, third-party loggers",
        mitigation="A scrubbing processor on structlog and stdlib handlers: sensitive keys "
        "dropped, JWTs, Bearer values and credential query parameters masked anywhere.",
        tests=(
            "tests/unit/foundation/test_logs.py::test_sensitive_keys_are_dropped",
            "tests/unit/foundation/test_logs.py::test_tokens_inside_free_text_are_masked",
            "tests/unit/foundation/test_logs.py::test_stdlib_records_from_libraries_are_scrubbed",
        ),
    ),
    Threat(
        id="T-PRIV-1",
        title="Unredacted PII stored or leaked in transcripts, errors or database files",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="transcripts",
        entry_point="POST /internal/v1/sessions/{id}/transcript",
        mitigation="Presidio with transcript-aware recognizers before storage; only redacted "
        "text stored, encrypted under the subject's key; bad input refused without echo.",
        tests=(
            f"{_TRANSCRIPTS}::test_only_redacted_text_is_stored_encrypted_with_session_placeholders",
            f"{_TRANSCRIPTS}::test_finalisation_redacts_pii_split_across_segments",
            f"{_TRANSCRIPTS}::test_bad_input_is_refused_without_echo",
            f"{_NORMALISE_PROPS}::test_every_normalised_character_maps_into_the_original_in_order",
            f"{_NORMALISE_PROPS}::test_any_span_of_the_normalised_text_maps_to_a_covering_span",
        ),
    ),
    Threat(
        id="T-PRIV-2",
        title="Erased data recoverable, or erasure unprovable",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="personal data",
        entry_point="DELETE /v1/me/data",
        mitigation="Crypto-shredding (the subject's data key destroyed), rows deleted, signed "
        "Ed25519 receipt; legal hold blocks with 409.",
        tests=(
            f"{_ERASURE}::test_erasure_is_real_provable_and_leaves_the_audit_chain_intact",
            f"{_ERASURE}::test_legal_hold_blocks_erasure_and_is_admin_only",
        ),
        references=("GDPR Art. 17",),
    ),
    Threat(
        id="T-PRIV-3",
        title="Data kept past its retention period",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="every stored class",
        entry_point="storage",
        mitigation="A leased reconciler purges every class on time and audits counts; legal "
        "hold suspends it.",
        tests=(
            f"{_RETENTION}::test_each_class_is_purged_exactly_on_time",
            f"{_RETENTION}::test_legal_hold_suspends_retention",
        ),
        references=("ASVS 14.2.7",),
    ),
    Threat(
        id="T-AG-1",
        title="An agent worker writes into, or listens to, a session it was not dispatched to",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="transcripts, live sessions",
        entry_point="internal API, agent dispatch",
        mitigation="Session-bound, revocable worker credentials of their own JWT type; "
        "dispatch only after Cedar dispatch_agent; room input pinned to the expected identity.",
        tests=(
            f"{_TRANSCRIPTS}::test_worker_bearer_matrix",
            f"{_AGENTS_E2E}::test_workers_hold_only_the_agents_key_and_credentials_stay_in_their_lane",
            "tests/integration/agents/test_dispatch.py::test_a_user_denied_dispatch_agent_gets_the_session_without_an_agent",
        ),
    ),
    Threat(
        id="T-AG-2",
        title="A compromised worker holds the control plane's LiveKit secret",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="LiveKit API keys",
        entry_point="worker process environment",
        mitigation="Workers get an environment from an allow-list: the agents' own key pair and "
        "a short-lived rotated credential file, nothing else.",
        tests=(f"{_SUPERVISOR}::test_workers_get_least_privilege_and_a_killed_one_is_restarted",),
    ),
    Threat(
        id="T-DOS-1",
        title="Credential stuffing, mint floods and login floods",
        category=Stride.DENIAL_OF_SERVICE,
        asset="availability, IdP",
        entry_point="/auth/*, mint endpoints",
        mitigation="Per-address and per-subject limits (memory or Redis), X-Forwarded-For only "
        "from trusted proxies, 429 with Retry-After, every hit audited, store down = 503.",
        tests=(
            f"{_RATE}::test_mints_over_the_subject_limit_get_429_with_retry_after",
            f"{_RATE}::test_login_is_limited_per_address_and_spoofed_forwarded_for_is_ignored",
            f"{_RATE}::test_an_unreachable_limiter_store_fails_closed",
        ),
        references=("ASVS 2.4.1",),
    ),
    Threat(
        id="T-DOS-2",
        title="Oversized or malformed bodies exhaust memory or crash handlers",
        category=Stride.DENIAL_OF_SERVICE,
        asset="availability",
        entry_point="every body-accepting route",
        mitigation="Body limit middleware (413 before reading), strict schemas, "
        "no 5xx on bad input.",
        tests=(
            "tests/unit/foundation/test_app.py::test_oversized_body_is_413_not_5xx",
            f"{_JOIN}::test_unknown_fields_and_sessions_are_clear_errors",
            f"{_CONTRACT}::test_every_operation_meets_its_contract_under_fuzzing",
            f"{_WEBHOOK_PROPS}::test_signed_arbitrary_json_is_accepted_or_refused_with_a_reason",
            f"{_CLAIMS_PROPS}::test_arbitrary_claims_give_a_bounded_principal_or_a_refusal",
            f"{_CLAIMS_PROPS}::test_any_login_facts_give_a_principal_or_a_refusal",
        ),
    ),
    Threat(
        id="T-RISK-1",
        title="A stolen account mints at an abnormal rate or fans out across sessions",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="live sessions",
        entry_point="mint path",
        mitigation="Statistical detectors against the subject's own baseline; step-up raises "
        "the risk score so high-risk forbids apply; lock removes the subject everywhere.",
        tests=(
            f"{_ANOMALY}::test_mint_rate_step_up_refuses_media_until_an_mfa_login",
            f"{_ANOMALY}::test_session_fanout_lock_locks_the_subject",
        ),
    ),
    Threat(
        id="T-DOS-3",
        title="A flood of forged credentials floods, and serialises on, the audit chain",
        category=Stride.DENIAL_OF_SERVICE,
        asset="audit log, mint throughput",
        entry_point="Authorization headers, webhook deliveries",
        mitigation="Rejections are always refused and always counted for anomaly detection, "
        "but audited per sender address only up to a budget (risk.rejection_audit_limit, "
        "webhooks.rejection_audit_limit); the rest go to the structured log.",
        tests=(
            f"{_BEARER}::test_a_flood_of_garbage_bearers_is_refused_but_audited_only_up_to_the_budget",
            f"{_WEBHOOK}::test_rejection_audits_are_bounded_per_sender",
        ),
    ),
    Threat(
        id="T-SC-1",
        title="A secret (cloud key, private key, token) committed to the repository",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="credentials",
        entry_point="every tracked file",
        mitigation="CI runs a detect-secrets scan of every tracked file (scripts/lint/"
        "secret_scan.py) and fails on a finding the reviewed .secrets.baseline does not list, "
        "without printing it. The dependency audit (scripts/audit-deps, pip-audit --strict) "
        "is not in CI: the vulnerability data is unreachable from the CI machine.",
        tests=(
            f"{_LEAK_SCAN}::test_a_planted_secret_fails_the_scan_without_echoing_it",
            f"{_LEAK_SCAN}::test_reviewed_fixtures_pass_even_when_their_lines_move",
            f"{_LEAK_SCAN}::test_a_missing_baseline_fails_the_scan",
        ),
    ),
)
