"""The threats, each with its mitigation and the tests that prove it.

Identifiers are cited in code comments (``T-LOG-1`` …) where a line exists because of one.
"""

from __future__ import annotations

from threat_model.model import Stride, Threat

_BEARER = "tests/security/identity/test_bearer_attacks.py"
_LOGIN = "tests/integration/identity/test_browser_login.py"
_LOGIN_CSRF = "tests/security/identity/test_login_csrf.py"
_LOCK = "tests/integration/sessions/test_subject_lock.py"
_BEARER_CACHE = "tests/unit/identity/test_verified_token_cache.py"
_JOIN = "tests/integration/sessions/test_join_policies.py"
_MINT = "tests/integration/sessions/test_mint_flow.py"
_AUDIT_VERIFY = "tests/integration/audit/test_verify.py"
_WEBHOOK = "tests/integration/livekit/test_webhook_intake.py"
_WEBHOOK_UNIT = "tests/unit/livekit/test_webhook.py"
_JOIN_AUDIT = "tests/integration/livekit/test_join_auditing.py"
_JOIN_BINDING = "tests/unit/livekit/test_join_binding.py"
_TRANSCRIPTS = "tests/integration/privacy/test_transcripts.py"
_ERASURE = "tests/integration/privacy/test_erasure.py"
_RETENTION = "tests/integration/privacy/test_retention.py"
_AGENTS_E2E = "tests/e2e/test_agents.py"
_SUPERVISOR = "tests/integration/agents/test_supervisor.py"
_RATE = "tests/integration/risk/test_rate_limits.py"
_ANOMALY = "tests/integration/risk/test_anomalies.py"
_POLICY = "tests/integration/authz/test_policy_admin.py"
_AUTHZ_UNIT = "tests/unit/authz/test_service.py"
_SERVE = "tests/integration/foundation/test_server_limits.py"
_TENANT_RECORDS = "tests/integration/livekit/test_tenant_records.py"
_BUDGETS = "tests/integration/risk/test_write_budgets.py"
_REMEDIATION = "tests/integration/livekit/test_remediation_budget.py"
_FREE_TEXT = "tests/integration/privacy/test_outside_free_text.py"
_DATA_MAP = "tests/unit/privacy/test_data_map.py"
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
        title="State swap, code injection or callback replay",
        category=Stride.SPOOFING,
        asset="browser session",
        entry_point="/auth/callback",
        mitigation="Server-side pending login keyed by the state's hash, consumed once, and "
        "spent even when the callback fails (the deletion survives the rollback); PKCE S256 "
        "verifier and nonce bound to that pending login; a repeated parameter or an RFC 9207 "
        "iss that is not the configured issuer fails the login. (Login CSRF: T-ID-7.)",
        tests=(
            f"{_LOGIN}::test_state_mismatch_and_replay_fail",
            f"{_LOGIN}::test_code_bound_to_another_login_fails_pkce_and_nonce",
            f"{_LOGIN}::test_id_token_with_another_nonce_is_rejected",
            f"{_LOGIN_CSRF}::test_a_replayed_callback_is_refused_even_with_the_right_cookie",
            f"{_LOGIN_CSRF}::test_idp_errors_and_refused_code_exchanges_are_counted",
            f"{_LOGIN_CSRF}::test_malformed_callbacks_are_refused_audited_and_counted",
        ),
        references=("RFC 9700 §2.1", "RFC 9207", "ASVS 10.1.2, 10.2.1, 10.5.1"),
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
        "__Host- and Secure over https, cleared with the same attributes; idle and absolute "
        "timeouts; per-session CSRF token (HMAC of the session id under the session secret: "
        "the same in every tab, new at each login) for state-changing requests; auth "
        "responses are Cache-Control: no-store; users list and revoke their sessions.",
        tests=(
            f"{_LOGIN}::test_login_creates_a_session_that_can_mint_with_csrf",
            f"{_LOGIN}::test_browser_sessions_can_be_listed_and_revoked",
            f"{_LOGIN}::test_csrf_token_is_the_same_in_every_tab_and_new_at_the_next_login",
            f"{_LOGIN}::test_over_https_both_cookies_are_host_prefixed_secure_and_cleared_as_set",
            f"{_LOGIN}::test_login_lands_on_a_page_that_exists_and_auth_responses_are_not_stored",
        ),
        references=("ASVS 7.2.3, 7.2.4, 7.5.2",),
    ),
    Threat(
        id="T-ID-7",
        title="Login CSRF: a victim's browser completes the attacker's login",
        category=Stride.SPOOFING,
        asset="browser session",
        entry_point="/auth/callback",
        mitigation="Each pending login is bound to a random pre-login cookie (HttpOnly, "
        "SameSite=Lax, __Host- and Secure over https, lives as long as the login state) whose "
        "hash is stored with it; the callback is refused before the code is redeemed unless "
        "that cookie comes back and matches, and a successful callback clears it. A missing, "
        "foreign, forged, oversized or garbage cookie is a 401, audited and counted.",
        tests=(
            f"{_LOGIN_CSRF}::test_an_attackers_callback_opened_in_another_browser_logs_nobody_in",
            f"{_LOGIN_CSRF}::test_a_replayed_callback_is_refused_even_with_the_right_cookie",
            f"{_LOGIN}::test_over_https_both_cookies_are_host_prefixed_secure_and_cleared_as_set",
        ),
        references=("RFC 6749 §10.12", "RFC 9700 §4.7"),
    ),
    Threat(
        id="T-ID-8",
        title="Open redirect through the post-login return_to",
        category=Stride.SPOOFING,
        asset="users (phishing)",
        entry_point="/auth/login?return_to=",
        mitigation="Only a same-origin absolute path of printable ASCII is kept (never //, a "
        "backslash, a scheme, dot segments, encoded or not, or CR/LF); anything else is a 422 "
        "audited refusal, never corrected; without one the login lands on "
        "browser.post_login_path (validated the same way at start-up).",
        tests=(
            f"{_LOGIN}::test_an_open_redirect_return_to_is_refused_and_audited",
            f"{_LOGIN}::test_a_same_origin_return_to_is_where_the_login_lands",
            "tests/unit/identity/test_return_to.py::test_anything_else_is_refused",
        ),
        references=("ASVS 5.1.5", "CWE-601"),
    ),
    Threat(
        id="T-ID-9",
        title="An authentic token with unusable claims crashes the request (500/503)",
        category=Stride.DENIAL_OF_SERVICE,
        asset="availability, audit log",
        entry_point="IdP-signed access and ID tokens (a compromised or federated IdP)",
        mitigation="Every claim read is checked before use: integers in range (no NaN, "
        "float, boolean), strings printable (no NUL, control characters, lone surrogates) "
        "and bounded, the right JSON type, JSON nested past the parser refused; each is the "
        "generic 401, audited by claim name and never by value (the alg is not echoed).",
        tests=(
            f"{_BEARER}::test_unusable_claims_in_an_authentic_token_are_the_generic_401",
            f"{_BEARER}::test_tokens_the_parser_chokes_on_are_the_generic_401",
        ),
        references=("ASVS 1.2.4", "RFC 8725 §3.11"),
    ),
    Threat(
        id="T-TOK-1",
        title="Over-privileged LiveKit token (SDK defaults grant publish, subscribe, data)",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="live session media",
        entry_point="POST /v1/sessions, POST /v1/sessions/{id}/token",
        mitigation="Grants computed from Cedar decisions only, every grant explicit, explicit "
        "publish sources; never roomAdmin/roomCreate/agent/hidden/recorder/canUpdateOwnMetadata "
        "(FORBIDDEN_VIDEO_GRANTS, checked by join_claims: no token otherwise).",
        tests=(
            f"{_MINT}::test_member_creates_session_and_gets_least_privilege_token",
            f"{_JOIN}::test_member_token_joins_its_room_with_microphone_only",
            f"{_JOIN}::test_video_is_granted_only_where_the_session_allows_it",
            "tests/unit/tokens/test_claims.py::test_join_claims_never_carry_a_forbidden_grant",
            "tests/unit/tokens/test_claims.py::"
            "test_the_guard_refuses_every_forbidden_grant_set_to_anything_but_false",
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
        title="An administrator locks themselves out, or the last active administrator",
        category=Stride.DENIAL_OF_SERVICE,
        asset="administration",
        entry_point="POST /v1/subjects/{id}/lock",
        mitigation="Locking one's own subject is refused (409) and audited as a denied "
        "subject.locked, so every manual lock leaves the administrator who made it active.",
        tests=(f"{_LOCK}::test_an_admin_cannot_lock_their_own_subject",),
    ),
    Threat(
        id="T-AUTHZ-4",
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
        id="T-WH-4",
        title="A signed webhook body the parser or the store cannot take is retried forever",
        category=Stride.DENIAL_OF_SERVICE,
        asset="webhook intake, join auditing",
        entry_point="POST /webhooks/livekit",
        mitigation="JSON nested past 32 levels, or NUL, control characters or lone "
        "surrogates in the fields intake keys on, is a 400 (LiveKit does not retry a 4xx), "
        "audited; a NUL or lone surrogate elsewhere is stored and ended by processing as "
        "unparseable (audited, never acted on), like any body protobuf refuses.",
        tests=(
            f"{_WEBHOOK_UNIT}::test_a_signed_body_the_intake_cannot_store_is_refused_as_malformed",
            f"{_WEBHOOK}::test_signed_bodies_json_or_the_store_cannot_take_are_4xx_or_unparseable",
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
        id="T-JOIN-4",
        title="A derived or look-alike identity (#suffix, case, unicode, whitespace) with a "
        "copied cp.tid passes as the participant it imitates",
        category=Stride.SPOOFING,
        asset="live session media",
        entry_point="LiveKit signalling (a token signed by any configured key, e.g. the "
        "agents' pair every worker holds)",
        mitigation="cp.tid names the ledger row; the row explains only its exact identity "
        "(byte for byte) in its own room, with exactly the minted attributes; the copy lends "
        "no subject and goes on the re-kick list under its own identity, never the victim's; an "
        "identity PostgreSQL cannot store (NUL) is stored with a stand-in and removed by sid.",
        tests=(
            f"{_JOIN_AUDIT}::test_a_suffixed_copy_of_a_real_identity_with_its_cp_tid_is_removed",
            f"{_JOIN_BINDING}::test_an_identity_not_exactly_minted_is_unexplained",
            f"{_JOIN_BINDING}::test_a_copied_cp_tid_of_another_room_is_unexplained",
            f"{_JOIN_AUDIT}::test_an_identity_no_database_can_store_is_still_removed",
            f"{_JOIN_AUDIT}::test_a_cp_tid_copied_into_another_room_is_removed",
        ),
        references=("livekit.md §1 suffixed identities", "README LiveKit keys"),
    ),
    Threat(
        id="T-JOIN-5",
        title="One mint explains several simultaneous connections",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="live session media",
        entry_point="LiveKit signalling",
        mitigation="One mint explains one live connection (participant sid): another open "
        "connection on the mint under another identity, or an earlier sid LiveKit lists with "
        "the same cp.tid, makes the newcomer mint_in_use (removed, anomaly); the same "
        "identity replaces its connection (LiveKit keeps one per identity and room).",
        tests=(
            f"{_JOIN_AUDIT}::test_a_second_simultaneous_connection_on_one_mint_is_removed",
            f"{_JOIN_BINDING}::test_a_second_live_connection_on_one_mint_is_unexplained",
            f"{_JOIN_BINDING}::"
            "test_a_mint_listed_twice_by_livekit_explains_only_the_first_connection",
        ),
    ),
    Threat(
        id="T-JOIN-6",
        title="A legitimate reconnect with LiveKit's refreshed token is removed once the mint "
        "expired (or a refresh is taken for a new mint)",
        category=Stride.DENIAL_OF_SERVICE,
        asset="live session media",
        entry_point="LiveKit reconnect",
        mitigation="A refreshed token keeps its cp.tid: a new connection of the same identity "
        "on the same mint is explained while the connection it continues is open or left "
        "less than a refreshed token's lifetime (10 min + leeway) ago.",
        tests=(
            f"{_JOIN_AUDIT}::"
            "test_a_token_refreshed_by_livekit_keeps_its_mint_after_the_mint_expired",
            f"{_JOIN_BINDING}::test_a_refreshed_token_keeps_its_mint",
            f"{_JOIN_BINDING}::test_a_reconnect_of_the_same_identity_replaces_its_connection",
        ),
        references=("livekit.md §1 Server refresh of tokens while connected",),
    ),
    Threat(
        id="T-JOIN-7",
        title="The agents' key signs a join as an agent, or a standard participant claims "
        "agent attributes; roomAdmin is invisible in webhooks",
        category=Stride.SPOOFING,
        asset="live session media",
        entry_point="LiveKit signalling with the agents' key pair",
        mitigation="An AGENT is explained only by its exact identity among the not-yet-ended "
        "jobs of a dispatch we recorded, under its agent name; a STANDARD carries exactly the "
        "minted attributes (no lk.agent_name); roomAdmin cannot be seen, so exact identity, "
        "one connection per mint and removal catch its holder (README LiveKit keys).",
        tests=(
            f"{_JOIN_BINDING}::test_an_agent_identity_must_be_a_live_job_of_a_recorded_dispatch",
            f"{_JOIN_BINDING}::test_attributes_must_be_exactly_the_minted_ones",
            f"{_JOIN_AUDIT}::"
            "test_the_agents_key_cannot_pass_a_join_off_as_an_agent_or_a_user_as_one",
        ),
        references=("README LiveKit keys",),
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
        id="T-AUD-5",
        title="The service's own database role rewrites the chain after the last checkpoint",
        category=Stride.TAMPERING,
        asset="audit log",
        entry_point="the service's database credentials (a compromised service, SQL injection)",
        mitigation="On PostgreSQL the service connects as an app role with INSERT and SELECT "
        "only on audit_record and audit_checkpoint (store/roles.py, `control-plane migrate "
        "--app-role`); retention purges through the owner's SECURITY DEFINER function, which "
        "removes only a checkpoint-covered prefix a retention.purged record vouches for. The "
        "witness file belongs on storage the service cannot rewrite (README).",
        tests=(
            "tests/integration/audit/test_app_role.py::test_the_app_role_cannot_rewrite_the_chain",
            "tests/integration/audit/test_app_role.py::test_the_purge_function_removes_only_a_vouched_checkpoint_covered_prefix",
        ),
        references=("ASVS 16.4.2",),
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
        mitigation="Presidio with transcript-aware recognizers before storage (gazetteer names, "
        "spoken numbers with every self-corrected attempt, measured on a held-out corpus); "
        "only redacted text stored, encrypted under the subject's key; an engine failure "
        "stores a full mask; bad input refused without echo.",
        tests=(
            f"{_TRANSCRIPTS}::test_only_redacted_text_is_stored_encrypted_with_session_placeholders",
            "tests/unit/privacy/test_redactor_fail_closed.py::test_engine_failure_masks_every_segment",
            f"{_TRANSCRIPTS}::test_a_failing_engine_stores_only_a_full_mask_and_audits_it",
            "tests/unit/privacy/redaction/test_generated_quality.py::"
            "test_every_class_recall_precision_and_over_redaction",
            "tests/unit/privacy/redaction/test_generated_quality.py::"
            "test_every_attempt_of_a_spoken_phone_is_redacted",
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
        id="T-PRIV-4",
        title="Free text from outside (lock reasons, the IdP's error parameter, X-Request-Id, "
        "request paths) lands verbatim in the immutable audit chain and the logs",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="personal data after erasure",
        entry_point="lock/unlock bodies, the OIDC callback, request headers and paths",
        mitigation="Lock reasons are a closed code (free text refused, 422); the IdP error is "
        "an RFC 6749/OIDC code or 'other'; X-Request-Id is kept only when shaped like a "
        "generated id, else replaced; the access log names the route template. Every column "
        "that could hold free text names its guard (privacy.erasure_map.FREE_TEXT_GUARDS).",
        tests=(
            f"{_FREE_TEXT}::test_outside_free_text_is_gone_after_erasure_from_chain_logs_and_stored_bodies",
            f"{_DATA_MAP}::test_every_column_that_can_hold_free_text_is_guarded_or_erased",
        ),
    ),
    Threat(
        id="T-PRIV-5",
        title="Client-chosen names in stored webhook bodies outlive the subject's erasure",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="personal data after erasure",
        entry_point="LiveKit webhooks (participant name/metadata/attributes, track and "
        "stream names, room metadata, ingress/egress details)",
        mitigation="The stored body keeps only what processing reads: client-chosen fields "
        "are stripped before storage (livekit.webhook.strip_client_fields), and erasure "
        "deletes every stored body naming the subject as a participant (erasure_map."
        "SUBJECT_TEXT).",
        tests=(
            f"{_WEBHOOK_UNIT}::test_the_stored_body_keeps_what_processing_reads_and_no_client_chosen_text",
            f"{_FREE_TEXT}::test_outside_free_text_is_gone_after_erasure_from_chain_logs_and_stored_bodies",
        ),
    ),
    Threat(
        id="T-PRIV-6",
        title="Erasure lifts a lock: an erased, locked subject logs in again unlocked",
        category=Stride.ELEVATION_OF_PRIVILEGE,
        asset="revocation",
        entry_point="DELETE /v1/subjects/{id}/data, then /auth/callback or a bearer",
        mitigation="Erasing a locked subject keeps a suppression record (pseudonym, tenant, "
        "reason code; no other personal data); a subject row created for that pseudonym "
        "starts locked; only an unlock lifts it.",
        tests=(f"{_LOCK}::test_an_erased_locked_subject_is_still_locked_when_it_logs_in_again",),
        references=("GDPR Art. 17(3)(e)",),
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
            "tests/unit/risk/test_address.py::"
            "test_behind_haproxy_the_client_cannot_choose_its_address_with_its_own_line",
            "tests/unit/risk/test_address.py::"
            "test_every_line_is_walked_from_the_right_through_trusted_proxies",
            "tests/integration/risk/test_sentinel.py::"
            "test_limits_count_through_sentinel_on_the_primary",
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
        id="T-RISK-2",
        title="Failed logins are invisible to the auth-failure detector",
        category=Stride.SPOOFING,
        asset="caller identity",
        entry_point="/auth/login, /auth/callback",
        mitigation="Every refused callback (IdP error, missing or foreign login cookie, bad or "
        "replayed state, refused code exchange, bad ID token, locked subject) and every "
        "refused return_to is audited with the address hash and counted per client address.",
        tests=(
            f"{_LOGIN_CSRF}::test_failed_callbacks_raise_an_auth_failures_anomaly",
            f"{_LOGIN_CSRF}::test_idp_errors_and_refused_code_exchanges_are_counted",
            f"{_LOGIN_CSRF}::test_an_id_token_that_fails_verification_is_refused_and_counted",
            f"{_LOGIN_CSRF}::test_an_attackers_callback_opened_in_another_browser_logs_nobody_in",
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
        "webhooks.rejection_audit_limit); the rest go to the structured log. The same holds "
        "for every write caused by outside input: rate-limit refusals per key "
        "(risk.refusal_audit_limit), login callback failures (behind the per-address auth "
        "limit), worker transcript rejections per worker, and remediation retries (audited "
        "on the first failure and on giving up; a step about a room LiveKit closed is done).",
        tests=(
            f"{_BEARER}::test_a_flood_of_garbage_bearers_is_refused_but_audited_only_up_to_the_budget",
            f"{_WEBHOOK}::test_rejection_audits_are_bounded_per_sender",
            f"{_BUDGETS}::test_a_login_flood_is_refused_but_audited_only_up_to_the_refusal_budget",
            f"{_BUDGETS}::test_a_bogus_callback_flood_is_audited_within_the_auth_limit_and_the_budget",
            f"{_REMEDIATION}::test_a_dispatch_of_a_deleted_room_is_done_not_retried",
            f"{_REMEDIATION}::test_a_refused_task_is_audited_on_its_first_failure_and_when_it_gives_up",
        ),
    ),
    Threat(
        id="T-TEN-1",
        title="Anomalies about a tenant's room are platform-wide: other tenants' admins read "
        "them, the owning tenant's auditors never see them",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="anomaly log, tenant isolation",
        entry_point="LiveKit webhooks, the reconciler (join auditing)",
        mitigation="An anomaly without an explicit tenant takes the owner of its unit of "
        "work's audit records (audit.service.audit_tenant: the caller's tenant, or the "
        "room's session's), like the audit records written beside it; every background "
        "unit of work about a room (processing, its failures, reconciler, remediation) "
        "resolves the room's tenant first (sessions.tenancy.record_for_room).",
        tests=(
            f"{_TENANT_RECORDS}::test_join_anomalies_belong_to_the_rooms_tenant",
            f"{_TENANT_RECORDS}::test_a_failed_event_about_a_tenants_room_is_the_tenants",
        ),
    ),
    Threat(
        id="T-TEN-2",
        title="room_started delivered before the session commits is recorded platform-wide",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="audit log, tenant isolation",
        entry_point="LiveKit webhooks racing the session-creating transaction",
        mitigation="Room names carry an own-room marker (sessions.tenancy.new_room_name); an "
        "event about such a room with no visible session is retried for "
        "ROOM_COMMIT_GRACE, so its record is written once the owner is known; only a room "
        "whose session never committed ends up platform-wide.",
        tests=(
            f"{_TENANT_RECORDS}::test_room_started_before_the_session_commits_waits_and_is_the_tenants",
            f"{_TENANT_RECORDS}::test_a_room_whose_session_never_commits_is_recorded_platform_wide_after_the_grace",
        ),
    ),
    Threat(
        id="T-DOS-4",
        title="Oversized request heads or bodies, or clients that vanish mid-body",
        category=Stride.DENIAL_OF_SERVICE,
        asset="availability, memory",
        entry_point="every connection to the server",
        mitigation="The server itself (no proxy assumed) caps a request head at "
        "server.max_header_bytes (431, nothing past it buffered); a chunked body over "
        "server.max_body_bytes is a 413 like a declared one, never FastAPI's 400; a client "
        "gone mid-body is logged, never a 500 or a traceback.",
        tests=(
            f"{_SERVE}::test_a_request_head_over_the_limit_is_431_and_closed",
            f"{_SERVE}::test_many_small_headers_over_the_limit_are_431",
            f"{_SERVE}::test_a_chunked_body_over_the_limit_is_413",
            f"{_SERVE}::test_a_client_gone_mid_body_leaves_no_error_and_no_traceback",
            "tests/unit/foundation/test_http_surface.py::"
            "test_an_oversized_body_is_413_with_the_headers_too",
        ),
    ),
    Threat(
        id="T-DOS-5",
        title="Slow clients (slowloris): heads or bodies sent slowly, or nothing at all",
        category=Stride.DENIAL_OF_SERVICE,
        asset="availability, webhook processing",
        entry_point="every connection; POST /webhooks/livekit",
        mitigation="The server times out a request head (server.header_timeout_seconds, from "
        "the first byte or the connection's opening) and a body (server.body_timeout_seconds "
        "for the whole body, so drip-feeding does not help; time the server itself holds the "
        "body up is not counted): 408 and closed. The webhook route reads its body first and "
        "marks the intake busy only for a verified delivery, so a held-open or forged body "
        "no longer throttles processing.",
        tests=(
            f"{_SERVE}::test_a_connection_that_sends_nothing_is_timed_out",
            f"{_SERVE}::test_a_head_sent_slowly_is_timed_out",
            f"{_SERVE}::test_a_body_that_stops_arriving_is_timed_out",
            f"{_SERVE}::test_a_body_drip_fed_byte_by_byte_is_timed_out",
            f"{_WEBHOOK}::test_a_body_held_open_or_forged_does_not_hold_up_processing",
        ),
    ),
    Threat(
        id="T-DOS-6",
        title="Valid-looking input that the store cannot take turns into a 5xx",
        category=Stride.DENIAL_OF_SERVICE,
        asset="availability, audit export",
        entry_point="cursors and limits; a new user's first requests",
        mitigation="Audit sequence numbers and checkpoint heads are 64-bit (the chain would "
        "have stopped at 2**31); every cursor is bounded (422 past 2**62, on every route and "
        "the CLI); subjects are created with INSERT ... ON CONFLICT DO NOTHING then read, so "
        "concurrent first requests all succeed on both backends; a NUL in a path (404), a "
        "query or a JSON body, or a lone surrogate in a body (422), is refused before any "
        "route runs.",
        tests=(
            "tests/integration/audit/test_routes.py::"
            "test_every_audit_cursor_past_32_bits_works_and_past_its_bound_is_422",
            "tests/integration/foundation/test_migration_drift.py::"
            "test_audit_sequence_numbers_are_64_bit",
            "tests/unit/audit/test_cli_bounds.py::"
            "test_export_cursor_and_limit_out_of_range_are_usage_errors",
            "tests/integration/identity/test_subjects.py::"
            "test_a_new_users_first_concurrent_requests_all_succeed",
            "tests/integration/foundation/test_unstorable_input.py::"
            "test_nul_in_a_path_matches_no_route",
            "tests/integration/foundation/test_unstorable_input.py::test_nul_in_a_query_is_422",
            "tests/integration/foundation/test_unstorable_input.py::"
            "test_nul_or_a_lone_surrogate_in_a_json_body_is_422",
        ),
    ),
    Threat(
        id="T-INFO-1",
        title="Responses framed, sniffed, cached or read cross-origin; metrics public",
        category=Stride.INFORMATION_DISCLOSURE,
        asset="tokens, CSRF tokens, exports, operational metrics",
        entry_point="every response",
        mitigation="CSP default-src 'none' with frame-ancestors 'none', nosniff, "
        "Referrer-Policy no-referrer, HSTS over https and Cache-Control: no-store on every "
        "response; CORS only for server.cors_origins (https in production), credentials off "
        "unless set; /metrics public only by setting (refused in production) or behind "
        "server.metrics_token; error bodies are the one documented shape.",
        tests=(
            "tests/unit/foundation/test_http_surface.py::"
            "test_every_response_carries_the_security_headers_and_no_store",
            "tests/unit/foundation/test_http_surface.py::"
            "test_cors_answers_only_the_configured_origin_without_credentials",
            "tests/unit/foundation/test_http_surface.py::test_metrics_are_public_only_by_setting",
            "tests/unit/foundation/test_http_surface.py::"
            "test_the_openapi_document_describes_the_real_error_body_everywhere",
        ),
        references=("ASVS 3.4.1-3.4.6", "ASVS 13.2.1"),
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
