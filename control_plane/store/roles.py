"""PostgreSQL roles: the app writes the audit chain but cannot rewrite it (T-AUD-5).

Two roles: the *owner* runs migrations and owns every table; the *app role* the service
connects as gets ordinary read/write on every table except the chain (``audit_record``,
``audit_checkpoint``), where it may only INSERT and SELECT. UPDATE, DELETE and TRUNCATE
of the chain answer "permission denied", so a compromised service (or an SQL injection)
cannot rewrite history after the last checkpoint, which nothing could detect (checkpoints
and the witness only vouch for what they signed). Retention still removes old records:
through ``cp_purge_audit_prefix``, a SECURITY DEFINER function owned by the owner that
only removes a *prefix* a signed checkpoint covers and a ``retention.purged`` record
vouches for, so even the app role's one way to delete leaves evidence in the chain.

SQLite has no roles: the embedded mode relies on file permissions (one process, one user).
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

PURGE_FUNCTION = "cp_purge_audit_prefix"
CHAIN_TABLES = ("audit_record", "audit_checkpoint")


def purge_function_sql(schema: str) -> str:
    """The DDL of the purge function, pinned to ``schema`` (a quoted identifier)."""
    # search_path pinned: a SECURITY DEFINER function must not resolve names through the
    # caller's path (PostgreSQL docs, "Writing SECURITY DEFINER Functions Safely").
    # ``schema`` comes from quote_ident(current_schema()), never from input.
    return _PURGE_DDL.replace("{schema}", schema).replace("{function}", PURGE_FUNCTION)


_PURGE_DDL = """
CREATE OR REPLACE FUNCTION {schema}.{function}(through_seq bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE removed bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_checkpoint WHERE head_seq >= through_seq) THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = 'audit purge not covered by a checkpoint: ' || through_seq;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM audit_record
         WHERE seq > through_seq AND event_type = 'retention.purged'
           AND (details ->> 'audit_through_seq')::bigint = through_seq
    ) THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = 'audit purge without a retention.purged record: ' || through_seq;
    END IF;
    DELETE FROM audit_record WHERE seq <= through_seq;
    GET DIAGNOSTICS removed = ROW_COUNT;
    DELETE FROM audit_checkpoint WHERE head_seq < through_seq;
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION {schema}.{function}(bigint) FROM PUBLIC;
"""


def create_purge_function(connection: Connection) -> None:
    """Create (or replace) the purge function in the current schema (PostgreSQL only)."""
    schema = _current_schema(connection)
    connection.exec_driver_sql(purge_function_sql(schema))


def drop_purge_function(connection: Connection) -> None:
    schema = _current_schema(connection)
    connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {schema}.{PURGE_FUNCTION}(bigint)")


async def purge_chain_prefix(connection: AsyncConnection, *, through_seq: int) -> int | None:
    """Remove the chain through ``through_seq`` with the purge function; how many records
    went, or None where there is no such function (SQLite: the caller deletes)."""
    if connection.dialect.name != "postgresql":
        return None
    result = await connection.execute(
        text(f"SELECT {PURGE_FUNCTION}(:through)"), {"through": through_seq}
    )
    return int(result.scalar_one())


def grant_app_role(connection: Connection, role: str) -> None:
    """Grant ``role`` what the service needs and no more on the chain (run as the owner,
    after migrating; idempotent). Tables created later need it run again."""
    schema = _current_schema(connection)
    who = _quoted(connection, role)
    chain = ", ".join(f"{schema}.{table}" for table in CHAIN_TABLES)
    for statement in (
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {chain} FROM {who}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.alembic_version FROM {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        f"GRANT EXECUTE ON FUNCTION {schema}.{PURGE_FUNCTION}(bigint) TO {who}",
    ):
        connection.exec_driver_sql(statement)


def _current_schema(connection: Connection) -> str:
    return _quoted(connection, str(connection.execute(text("SELECT current_schema()")).scalar()))


def _quoted(connection: Connection, name: str) -> str:
    return str(connection.execute(text("SELECT quote_ident(:name)"), {"name": name}).scalar())
