#!/usr/bin/env bash
# Real-service harness: PostgreSQL 15, Redis 7, livekit-server, a local OIDC provider.
#
#   scripts/harness/services.sh install|start|stop|status|env [postgres redis livekit idp]
#
# Everything listens on 127.0.0.1 only. Data, logs, pid files and generated secrets live
# under var/harness/ (gitignored); secrets are generated once and never overwritten.
# `start` implies `install` and is idempotent; `stop` leaves nothing running.
# `status` exits 3 when a requested service is down. `env` prints `export` lines and
# writes var/harness/env and var/harness/control-plane.env.
#
# Environment:
#   CP_CACHE_DIR            build cache (default ~/.cache/control-plane): livekit-server binary
#   CP_HARNESS_WEBHOOK_URL  LiveKit webhook target (default http://127.0.0.1:8787/webhooks/livekit);
#                           a changed URL restarts livekit-server on the next `start`.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
VAR="$REPO_ROOT/var/harness"
LOGS="$VAR/logs"
RUN="$VAR/run"
CACHE="${CP_CACHE_DIR:-$HOME/.cache/control-plane}"

ALL_SERVICES=(postgres redis livekit idp)

PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=55432
PG_DIR="$VAR/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCKET_DIR="$PG_DIR/run"
PG_DB=control_plane
PG_TEST_DB=control_plane_test
PG_ROLE=control_plane

REDIS_PORT=56379
REDIS_DIR="$VAR/redis"

LK_VERSION=1.13.5
LK_MODULE="github.com/livekit/livekit-server/cmd/server@v$LK_VERSION"
LK_BIN_DIR="$CACHE/bin/lk-$LK_VERSION"
LK_BIN="$LK_BIN_DIR/server"
LK_PORT=7880
LK_TEMPLATE="$REPO_ROOT/deploy/local/livekit.yaml"
LK_CONFIG="$VAR/livekit.yaml"
LK_KEYS="$VAR/livekit-keys.yaml"
LK_DEFAULT_WEBHOOK_URL="http://127.0.0.1:8787/webhooks/livekit"

IDP_SRC="$REPO_ROOT/deploy/local/idp"
IDP_DIR="$VAR/idp"
IDP_PORT=9400
IDP_ISSUER="http://127.0.0.1:$IDP_PORT"
IDP_AUDIENCE="urn:control-plane:api"
IDP_WEB_CLIENT=cp-web
IDP_NATIVE_CLIENT=cp-native

CP_PORT=8787
STACK_VAR="$REPO_ROOT/var/stack" # scripts/stack's server state: key ring, witness file

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $0 install|start|stop|status|env [${ALL_SERVICES[*]}]
EOF
    exit 2
}

# ---------------------------------------------------------------------------- helpers

as_user() { # as_user USER CMD...: run as a service account when root, else as ourselves
    local user=$1; shift
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u "$user" -- "$@")
    else
        (cd / && "$@")
    fi
}

service_user() { # the account a daemon runs as
    if [[ $EUID -eq 0 ]] && id "$1" >/dev/null 2>&1; then echo "$1"; else id -un; fi
}

root_cmd() {
    if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

random_secret() { # 32 random bytes, base64url without padding (43 characters)
    head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='
}

ensure_secret() { # ensure_secret FILE: generate once, never overwrite
    local file=$1
    if [[ ! -s $file ]]; then
        (umask 077 && random_secret >"$file.tmp" && mv "$file.tmp" "$file")
    fi
    chmod 600 "$file"
}

timed() { # timed LABEL CMD...: run quietly, print the elapsed time, show the log on failure
    local label=$1 start log rc=0; shift
    start=$(date +%s)
    log=$(mktemp)
    "$@" >"$log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        tail -n 40 "$log" >&2
        rm -f "$log"
        die "$label failed (exit $rc)"
    fi
    rm -f "$log"
    say "$label done in $(($(date +%s) - start))s"
}

APT_UPDATED=0
apt_install() {
    local guard=0
    if [[ $APT_UPDATED -eq 0 ]]; then
        timed "apt-get update" root_cmd apt-get update -q
        APT_UPDATED=1
    fi
    # Without an init system the packages' postinst would try to start their own
    # daemons (on default ports); the Debian policy-rc.d hook forbids that.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | root_cmd tee /usr/sbin/policy-rc.d >/dev/null
        root_cmd chmod 755 /usr/sbin/policy-rc.d
        guard=1
    fi
    local rc=0
    (timed "apt-get install $*" root_cmd env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@") || rc=$?
    if [[ $guard -eq 1 ]]; then root_cmd rm -f /usr/sbin/policy-rc.d; fi
    [[ $rc -eq 0 ]] || exit "$rc"
}

pid_alive() { # pid_alive PIDFILE PATTERN: the pid is running and its command line matches
    local pidfile=$1 pattern=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

stop_pid() { # stop_pid NAME PIDFILE PATTERN: TERM, wait, KILL; only our own pid
    local name=$1 pidfile=$2 pattern=$3 pid i
    if ! pid_alive "$pidfile" "$pattern"; then
        rm -f "$pidfile"
        say "$name: not running"
        return 0
    fi
    pid=$(<"$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name: still running after 10s, sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$pidfile"
    say "$name: stopped (pid $pid)"
}

wait_for() { # wait_for NAME SECONDS PIDFILE PATTERN LOG CMD...: poll CMD until it succeeds
    local name=$1 seconds=$2 pidfile=$3 pattern=$4 log=$5 i; shift 5
    for i in $(seq 1 $((seconds * 10))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        if [[ -n $pidfile ]] && ! pid_alive "$pidfile" "$pattern"; then
            tail -n 30 "$log" >&2 || true
            die "$name exited during startup (log: $log)"
        fi
        sleep 0.1
    done
    tail -n 30 "$log" >&2 || true
    die "$name did not become ready in ${seconds}s (log: $log)"
}

prepare_dirs() {
    mkdir -p "$VAR" "$LOGS" "$RUN" "$IDP_DIR"
    # The postgres and redis accounts traverse these to reach their own dirs and logs.
    chmod 711 "$VAR" "$LOGS"
    chmod 700 "$RUN" "$IDP_DIR"
}

ensure_secrets() {
    prepare_dirs
    ensure_secret "$VAR/postgres-password"
    ensure_secret "$VAR/redis-password"
    ensure_secret "$IDP_DIR/cp-web-client-secret"
    if [[ ! -s $LK_KEYS ]]; then
        (
            umask 077
            {
                echo "# livekit-server --key-file (generated; never commit). One pair per role."
                echo "cp-api: $(random_secret)"
                echo "cp-agent: $(random_secret)"
                echo "cp-webhook: $(random_secret)"
            } >"$LK_KEYS.tmp"
            mv "$LK_KEYS.tmp" "$LK_KEYS"
        )
    fi
    chmod 600 "$LK_KEYS" # livekit-server refuses a key file that others can read
    local key
    for key in cp-api cp-agent cp-webhook; do
        [[ -n $(lk_secret "$key") ]] || die "$LK_KEYS has no '$key' entry; remove the file to regenerate all keys"
    done
}

lk_secret() { awk -v k="$1:" '$1 == k { print $2 }' "$LK_KEYS"; }

# ---------------------------------------------------------------------------- postgres

pg_install() {
    if [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]]; then return 0; fi
    say "postgres: installing postgresql-15"
    apt_install postgresql-15
}

pg_user() { service_user postgres; }

pg_running() { [[ -f $PG_DATA/PG_VERSION ]] && as_user "$(pg_user)" "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

pg_psql() { # SQL on stdin, as the superuser over the private socket
    as_user "$(pg_user)" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres
}

pg_start() {
    local user
    user=$(pg_user)
    mkdir -p "$PG_DIR" "$PG_SOCKET_DIR"
    touch "$LOGS/postgres.log"
    chown "$user:" "$PG_DIR" "$PG_SOCKET_DIR" "$LOGS/postgres.log"
    chmod 700 "$PG_DIR"
    chmod 600 "$LOGS/postgres.log"
    if [[ ! -f $PG_DATA/PG_VERSION ]]; then
        say "postgres: initdb $PG_DATA"
        rm -rf "$PG_DATA"
        timed "postgres: initdb" as_user "$user" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres \
            -E UTF8 --locale=C --auth-local=peer --auth-host=scram-sha-256
        echo "include_if_exists = 'harness.conf'" >>"$PG_DATA/postgresql.conf"
    fi
    # Rewritten on every start so a moved checkout still gets the right socket path.
    cat >"$PG_DATA/harness.conf" <<EOF
# written by scripts/harness/services.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    chown "$user:" "$PG_DATA/harness.conf"
    if pg_running; then
        say "postgres: already running"
    else
        as_user "$user" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t 60 \
            start >/dev/null 9>&- || { tail -n 30 "$LOGS/postgres.log" >&2; die "postgres did not start"; }
        say "postgres: started on 127.0.0.1:$PG_PORT"
    fi
    pg_bootstrap
}

pg_bootstrap() { # idempotent: role with the generated password, both databases
    local password
    password=$(<"$VAR/postgres-password")
    # The password goes over stdin, never on a command line. It is base64url (no quotes),
    # so interpolating it into the SQL literal is safe. CREATEDB: the test suite clones a
    # fresh database per test from a migrated template (this harness is loopback-only);
    # pg_signal_backend lets it drop such a database WITH (FORCE) despite a leftover
    # connection. CREATEROLE: the suite creates a uniquely named, INSERT/SELECT-only app
    # role per test to prove the audit chain cannot be rewritten (store/roles.py).
    pg_psql <<EOF
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I LOGIN', '$PG_ROLE')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') \gexec
ALTER ROLE $PG_ROLE WITH LOGIN NOSUPERUSER CREATEROLE CREATEDB PASSWORD '$password';
GRANT pg_signal_backend TO $PG_ROLE;
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_DB', '$PG_ROLE')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_TEST_DB', '$PG_ROLE')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_TEST_DB') \gexec
EOF
}

pg_stop() {
    if pg_running; then
        as_user "$(pg_user)" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
        say "postgres: stopped"
    else
        say "postgres: not running"
    fi
}

pg_status() {
    if pg_running; then
        echo "postgres  running  pid $(head -n1 "$PG_DATA/postmaster.pid")  127.0.0.1:$PG_PORT  db $PG_DB, $PG_TEST_DB"
    else
        echo "postgres  stopped"
        return 3
    fi
}

# ---------------------------------------------------------------------------- redis

redis_install() {
    if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then return 0; fi
    say "redis: installing redis-server"
    apt_install redis-server
}

redis_pidfile() { echo "$REDIS_DIR/redis.pid"; }
redis_running() { pid_alive "$(redis_pidfile)" "redis-server"; }

redis_ping() {
    REDISCLI_AUTH=$(<"$VAR/redis-password") redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG
}

redis_start() {
    local user
    user=$(service_user redis)
    mkdir -p "$REDIS_DIR"
    touch "$LOGS/redis.log"
    chown "$user:" "$REDIS_DIR" "$LOGS/redis.log"
    chmod 700 "$REDIS_DIR"
    chmod 600 "$LOGS/redis.log"
    if redis_running; then
        say "redis: already running"
        return 0
    fi
    (
        umask 077
        cat >"$REDIS_DIR/redis.conf" <<EOF
# written by scripts/harness/services.sh (holds the generated password)
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $(redis_pidfile)
logfile $LOGS/redis.log
dir $REDIS_DIR
save ""
appendonly no
requirepass $(<"$VAR/redis-password")
EOF
    )
    chown "$user:" "$REDIS_DIR/redis.conf"
    as_user "$user" redis-server "$REDIS_DIR/redis.conf" 9>&-
    wait_for redis 15 "" "" "$LOGS/redis.log" redis_ping
    say "redis: started on 127.0.0.1:$REDIS_PORT"
}

redis_stop() { stop_pid redis "$(redis_pidfile)" "redis-server"; }

redis_status() {
    if redis_running; then
        echo "redis     running  pid $(<"$(redis_pidfile)")  127.0.0.1:$REDIS_PORT"
    else
        echo "redis     stopped"
        return 3
    fi
}

# ---------------------------------------------------------------------------- livekit

lk_install() {
    if [[ -x $LK_BIN ]]; then return 0; fi
    command -v go >/dev/null || die "livekit: Go >= 1.26 is needed to build livekit-server (go not found)"
    mkdir -p "$LK_BIN_DIR" "$CACHE/logs"
    # One build at a time, also across concurrent harness runs.
    exec 8>"$CACHE/bin/lk-$LK_VERSION.lock"
    flock -w 1800 8 || die "livekit: timed out waiting for another build"
    while pgrep -f "go install $LK_MODULE" >/dev/null; do
        say "livekit: waiting for a build already in progress"
        sleep 5
    done
    if [[ ! -x $LK_BIN ]]; then
        say "livekit: building livekit-server v$LK_VERSION with go install (a few minutes)"
        timed "livekit: go install" env GOBIN="$LK_BIN_DIR" GOTOOLCHAIN=local CGO_ENABLED=0 \
            go install "$LK_MODULE"
    fi
    exec 8>&-
    [[ -x $LK_BIN ]] || die "livekit: build finished but $LK_BIN is missing"
}

lk_pidfile() { echo "$RUN/livekit.pid"; }
lk_running() { pid_alive "$(lk_pidfile)" "$LK_BIN"; }
lk_ready() { curl -fsS --max-time 1 "http://127.0.0.1:$LK_PORT/" >/dev/null; }

lk_render_config() { # the committed template, with the webhook URL of this run
    local url=${CP_HARNESS_WEBHOOK_URL:-$LK_DEFAULT_WEBHOOK_URL} template
    [[ $url =~ ^https?://[^[:space:]\"\\]+$ ]] || die "CP_HARNESS_WEBHOOK_URL is not a plain http(s) URL"
    template=$(<"$LK_TEMPLATE")
    [[ $template == *"\"$LK_DEFAULT_WEBHOOK_URL\""* ]] || die "$LK_TEMPLATE lost its default webhook URL line"
    {
        echo "# rendered from deploy/local/livekit.yaml by scripts/harness/services.sh"
        printf '%s\n' "${template//"\"$LK_DEFAULT_WEBHOOK_URL\""/"\"$url\""}"
    } >"$LK_CONFIG.new"
}

lk_start() {
    lk_render_config
    if lk_running; then
        if cmp -s "$LK_CONFIG.new" "$LK_CONFIG"; then
            rm -f "$LK_CONFIG.new"
            say "livekit: already running"
            return 0
        fi
        say "livekit: config changed (webhook URL?), restarting"
        lk_stop
    fi
    mv "$LK_CONFIG.new" "$LK_CONFIG"
    touch "$LOGS/livekit.log"
    chmod 600 "$LOGS/livekit.log" # livekit logs rejected tokens in full
    # setsid: its own session, so a closing terminal or test runner does not take it down.
    setsid "$LK_BIN" --config "$LK_CONFIG" --key-file "$LK_KEYS" \
        </dev/null >>"$LOGS/livekit.log" 2>&1 9>&- &
    echo $! >"$(lk_pidfile)"
    wait_for livekit 30 "$(lk_pidfile)" "$LK_BIN" "$LOGS/livekit.log" lk_ready
    say "livekit: started on 127.0.0.1:$LK_PORT (rtc udp 127.0.0.1:7882), webhook ${CP_HARNESS_WEBHOOK_URL:-$LK_DEFAULT_WEBHOOK_URL}"
}

lk_stop() { stop_pid livekit "$(lk_pidfile)" "$LK_BIN"; }

lk_status() {
    if lk_running; then
        echo "livekit   running  pid $(<"$(lk_pidfile)")  127.0.0.1:$LK_PORT  udp 7882  v$LK_VERSION"
    else
        echo "livekit   stopped"
        return 3
    fi
}

# ---------------------------------------------------------------------------- idp

idp_install() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        say "idp: installing nodejs and npm"
        apt_install nodejs npm
    fi
    local stamp="$IDP_SRC/node_modules/.package-lock.json"
    if [[ -f $stamp && ! $IDP_SRC/package-lock.json -nt $stamp ]]; then return 0; fi
    say "idp: npm ci in deploy/local/idp"
    timed "idp: npm ci" npm ci --prefix "$IDP_SRC" --no-audit --no-fund --loglevel=error
}

idp_pidfile() { echo "$RUN/idp.pid"; }
idp_running() { pid_alive "$(idp_pidfile)" "$IDP_SRC/server.mjs"; }
idp_ready() { curl -fsS --max-time 1 "$IDP_ISSUER/.well-known/openid-configuration" >/dev/null; }

idp_start() {
    if idp_running; then
        say "idp: already running"
        return 0
    fi
    touch "$LOGS/idp.log"
    chmod 600 "$LOGS/idp.log"
    (
        cd "$IDP_SRC"
        CP_IDP_STATE_DIR="$IDP_DIR" CP_IDP_PORT="$IDP_PORT" CP_IDP_ISSUER="$IDP_ISSUER" \
            setsid node "$IDP_SRC/server.mjs" </dev/null >>"$LOGS/idp.log" 2>&1 9>&- &
        echo $! >"$(idp_pidfile)"
    )
    wait_for idp 30 "$(idp_pidfile)" "$IDP_SRC/server.mjs" "$LOGS/idp.log" idp_ready
    say "idp: started, issuer $IDP_ISSUER"
}

idp_stop() { stop_pid idp "$(idp_pidfile)" "$IDP_SRC/server.mjs"; }

idp_status() {
    if idp_running; then
        echo "idp       running  pid $(<"$(idp_pidfile)")  $IDP_ISSUER"
    else
        echo "idp       stopped"
        return 3
    fi
}

# ---------------------------------------------------------------------------- env

write_env() { # the consumer contract: var/harness/env (export lines) and control-plane.env
    ensure_secrets
    local pg_pw redis_pw web_secret pg_base redis_url
    pg_pw=$(<"$VAR/postgres-password")
    redis_pw=$(<"$VAR/redis-password")
    web_secret=$(<"$IDP_DIR/cp-web-client-secret")
    pg_base="postgresql+psycopg://$PG_ROLE:$pg_pw@127.0.0.1:$PG_PORT"
    redis_url="redis://:$redis_pw@127.0.0.1:$REDIS_PORT/0"
    (
        umask 077
        {
            echo "# generated by scripts/harness/services.sh; holds secrets, never commit"
            echo "export CP_TEST_PG_URL='$pg_base/$PG_TEST_DB'"
            echo "export CP_PG_URL='$pg_base/$PG_DB'"
            echo "export CP_TEST_REDIS_URL='$redis_url'"
            echo "export CP_TEST_LIVEKIT_URL='http://127.0.0.1:$LK_PORT'"
            echo "export CP_TEST_LIVEKIT_WS_URL='ws://127.0.0.1:$LK_PORT'"
            echo "export CP_TEST_LIVEKIT_API_KEY='cp-api'"
            echo "export CP_TEST_LIVEKIT_API_SECRET='$(lk_secret cp-api)'"
            echo "export CP_TEST_LIVEKIT_AGENT_KEY='cp-agent'"
            echo "export CP_TEST_LIVEKIT_AGENT_SECRET='$(lk_secret cp-agent)'"
            echo "export CP_TEST_LIVEKIT_WEBHOOK_KEY='cp-webhook'"
            echo "export CP_TEST_LIVEKIT_WEBHOOK_SECRET='$(lk_secret cp-webhook)'"
            echo "export CP_TEST_IDP_ISSUER='$IDP_ISSUER'"
            echo "export CP_TEST_IDP_WEB_CLIENT_ID='$IDP_WEB_CLIENT'"
            echo "export CP_TEST_IDP_WEB_CLIENT_SECRET='$web_secret'"
            echo "export CP_TEST_IDP_NATIVE_CLIENT_ID='$IDP_NATIVE_CLIENT'"
            echo "export CP_TEST_IDP_AUDIENCE='$IDP_AUDIENCE'"
        } >"$VAR/env.tmp"
        mv "$VAR/env.tmp" "$VAR/env"
        {
            echo "# generated by scripts/harness/services.sh; holds secrets, never commit"
            echo "CONTROL_PLANE_DATABASE__URL='$pg_base/$PG_DB'"
            echo "CONTROL_PLANE_RISK__STORAGE_URL='$redis_url'"
            echo "CONTROL_PLANE_LIVEKIT__URL='http://127.0.0.1:$LK_PORT'"
            echo "CONTROL_PLANE_LIVEKIT__API_KEY='cp-api'"
            echo "CONTROL_PLANE_LIVEKIT__API_SECRET='$(lk_secret cp-api)'"
            echo "CONTROL_PLANE_LIVEKIT__WEBHOOK_API_KEY='cp-webhook'"
            echo "CONTROL_PLANE_LIVEKIT__WEBHOOK_API_SECRET='$(lk_secret cp-webhook)'"
            echo "CONTROL_PLANE_AGENTS__LIVEKIT_API_KEY='cp-agent'"
            echo "CONTROL_PLANE_AGENTS__LIVEKIT_API_SECRET='$(lk_secret cp-agent)'"
            echo "CONTROL_PLANE_OIDC__ISSUER='$IDP_ISSUER'"
            echo "CONTROL_PLANE_OIDC__CLIENT_ID='$IDP_WEB_CLIENT'"
            echo "CONTROL_PLANE_OIDC__CLIENT_SECRET='$web_secret'"
            echo "CONTROL_PLANE_OIDC__AUDIENCE='$IDP_AUDIENCE'"
            echo "CONTROL_PLANE_OIDC__REDIRECT_URI='http://127.0.0.1:$CP_PORT/auth/callback'"
            # The stack's server and every CLI run that sources this file share one var dir,
            # so one key ring and one witness file: a CLI with its own (var/keys) would check
            # the stack's checkpoints and receipts against other keys (false tamper alarms).
            echo "CONTROL_PLANE_SERVER__VAR_DIR='$STACK_VAR'"
        } >"$VAR/control-plane.env.tmp"
        mv "$VAR/control-plane.env.tmp" "$VAR/control-plane.env"
    )
}

# ---------------------------------------------------------------------------- main

[[ $# -ge 1 ]] || usage
verb=$1; shift
services=("$@")
[[ ${#services[@]} -gt 0 ]] || services=("${ALL_SERVICES[@]}")
for s in "${services[@]}"; do
    case $s in postgres | redis | livekit | idp) ;; *) die "unknown service '$s' (${ALL_SERVICES[*]})" ;; esac
done

short() { case $1 in postgres) echo pg ;; livekit) echo lk ;; *) echo "$1" ;; esac; }

lock() { # serialise install/start/stop; daemons are started with 9>&- so they never hold it
    prepare_dirs
    exec 9>"$VAR/.lock"
    flock -w 900 9 || die "another services.sh holds $VAR/.lock"
}

case $verb in
install)
    lock
    for s in "${services[@]}"; do "$(short "$s")_install"; done
    say "installed: ${services[*]}"
    ;;
start)
    lock
    ensure_secrets
    for s in "${services[@]}"; do "$(short "$s")_install"; done
    for s in "${services[@]}"; do "$(short "$s")_start"; done
    write_env
    ;;
stop)
    lock
    # Reverse order: consumers first.
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do "$(short "${services[$i]}")_stop"; done
    ;;
status)
    rc=0
    for s in "${services[@]}"; do "$(short "$s")_status" || rc=3; done
    exit "$rc"
    ;;
env)
    write_env
    grep '^export ' "$VAR/env"
    ;;
*) usage ;;
esac
