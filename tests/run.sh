#!/usr/bin/env bash
# The one test command for Tenure; `.ci/run` calls it on a clean clone, and developers run it as is.
#
#   tests/run.sh                 lint, then the whole suite
#   tests/run.sh --no-lint       skip rustfmt, clippy and buf (local iteration only; CI never passes it)
#   tests/run.sh -- <filter>     arguments after `--` go to the test runner (test name filters)
#   TENURE_SWEEP_SCALE=full tests/run.sh -- sweep
#                                the fuzz and cross-tenant sweep (tests/e2e/sweep.rs) at the size the
#                                README publishes, >= 100,000 requests each way (minutes, not seconds)
#
# It prepares what the tests need and hands it over in the environment:
#   TENURE_TEST_PG_URL     a PostgreSQL server the tests may create and drop `t_*` databases on
#   TENURE_TEST_MOTO_VENV  a virtualenv with moto[server]; each test starts its own moto_server from it
#   TENURE_BIN             the debug `tenure` binary, for the split-mode and chaos tests
#   TENURE_TEST_PROMTOOL   promtool, which checks the alert rules and a real /metrics scrape
# PostgreSQL is the first that works of: TENURE_TEST_PG_URL as given; postgres@127.0.0.1:5432; a
# throwaway cluster under target/tenure-test/pg (TENURE_TEST_PG_THROWAWAY=1 forces this one).
#
# Everything it keeps lives in target/tenure-test/ (buf, the moto virtualenv, package caches), so a
# rerun is fast and `cargo clean` starts over. Outside the repository it only ever installs Debian's
# postgresql package, as root, on a machine that has no PostgreSQL at all, and Debian's prometheus
# package (for promtool) on one without promtool.
set -euo pipefail

readonly BUF_VERSION="1.75.0"
readonly MOTO_PINS=("moto[server]==5.2.5" "boto3==1.44.5")

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

lint=true
runner_args=()
while (($# > 0)); do
    case "$1" in
        --no-lint) lint=false ;;
        -h | --help)
            usage
            exit 0
            ;;
        --)
            shift
            runner_args=("$@")
            break
            ;;
        *)
            printf 'tests/run.sh: unknown argument %q (see --help)\n' "$1" >&2
            exit 2
            ;;
    esac
    shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
cd "$ROOT"
readonly SCRATCH="$ROOT/target/tenure-test"
mkdir -p "$SCRATCH"

export CARGO_INCREMENTAL=0
if [[ -t 1 ]]; then
    export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
else
    export CARGO_TERM_COLOR=never
fi
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
# Snapshot changes are reviewed locally with `cargo insta review`, never accepted by a test run.
export INSTA_UPDATE=no
# Package managers keep their caches and logs in the scratch directory, not in $HOME.
export npm_config_cache="$SCRATCH/cache/npm"
export PIP_CACHE_DIR="$SCRATCH/cache/pip"
export BUF_CACHE_DIR="$SCRATCH/cache/buf"

# ---------------------------------------------------------------------------------------------------
# Phases, timing and the summary

now_ms() { date +%s%3N; }
human_duration() {
    local ms=$1
    if ((ms >= 60000)); then
        printf '%dm%02ds' $((ms / 60000)) $((ms % 60000 / 1000))
    else
        printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
    fi
}

RUN_STARTED_MS="$(now_ms)"
readonly RUN_STARTED_MS
readonly RUN_STARTED_EPOCH=$((RUN_STARTED_MS / 1000))
current_phase=""
phase_started_ms=0
summary=()

phase() {
    finish_phase
    current_phase="$1"
    phase_started_ms="$(now_ms)"
    printf '\n==> %s\n' "$current_phase"
}

finish_phase() {
    [[ -n "$current_phase" ]] || return 0
    local took
    took="$(human_duration $(($(now_ms) - phase_started_ms)))"
    summary+=("$(printf '  ok      %-34s %s' "$current_phase" "$took")")
    printf -- '--- %s: ok (%s)\n' "$current_phase" "$took"
    current_phase=""
}

note() { printf '    %s\n' "$*"; }

fail() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------------
# Clean-up: whatever this script started stops when it ends, however it ends

throwaway_pg_data=""
throwaway_pg_root=""
# Where the throwaway cluster lives, kept so that the next run can stop one a killed run left behind.
readonly PG_LOCATION_FILE="$SCRATCH/pg.location"

stop_throwaway_pg() {
    [[ -n "$throwaway_pg_data" && -f "$throwaway_pg_data/postmaster.pid" ]] || return 0
    as_pg_owner "$PG_BIN/pg_ctl" -D "$throwaway_pg_data" -m fast -w stop >/dev/null 2>&1 ||
        as_pg_owner "$PG_BIN/pg_ctl" -D "$throwaway_pg_data" -m immediate -w stop >/dev/null 2>&1 ||
        true
}

on_exit() {
    local status=$?
    set +e
    if [[ -n "$throwaway_pg_root" ]]; then
        stop_throwaway_pg
        rm -rf "$throwaway_pg_root" "$PG_LOCATION_FILE"
    fi
    if ((status == 0)); then
        finish_phase
    elif [[ -n "$current_phase" ]]; then
        summary+=("$(printf '  FAILED  %-34s %s' "$current_phase" \
            "$(human_duration $(($(now_ms) - phase_started_ms)))")")
    fi
    printf '\n==> summary\n'
    ((${#summary[@]} > 0)) && printf '%s\n' "${summary[@]}"
    local total
    total="$(human_duration $(($(now_ms) - RUN_STARTED_MS)))"
    if ((status == 0)); then
        printf 'tests/run.sh: all phases passed in %s\n' "$total"
    else
        printf 'tests/run.sh: FAILED (exit %d) after %s\n' "$status" "$total"
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------
# Lint: rustfmt, clippy, buf

install_buf() {
    local prefix="$SCRATCH/buf"
    BUF="$prefix/node_modules/.bin/buf"
    if [[ -x "$BUF" ]] && [[ "$("$BUF" --version 2>/dev/null)" == "$BUF_VERSION" ]]; then
        note "buf $BUF_VERSION (cached)"
        return 0
    fi
    command -v npm >/dev/null ||
        fail "npm is needed to install buf $BUF_VERSION (npm package @bufbuild/buf); install Node.js and npm"
    note "installing buf $BUF_VERSION with npm into target/tenure-test/buf"
    mkdir -p "$prefix"
    if ! npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier --loglevel=error \
        --fetch-timeout=60000 --fetch-retries=2 "@bufbuild/buf@$BUF_VERSION"; then
        fail "could not install @bufbuild/buf@$BUF_VERSION with npm: is the npm registry reachable?"
    fi
    [[ "$("$BUF" --version 2>/dev/null)" == "$BUF_VERSION" ]] ||
        fail "npm installed @bufbuild/buf, but $BUF does not report version $BUF_VERSION"
}

lint_proto() {
    install_buf
    "$BUF" lint proto
    "$BUF" format proto --diff --exit-code
    local branch
    branch="$(git rev-parse --abbrev-ref HEAD 2>/dev/null || true)"
    if [[ -z "$branch" ]]; then
        note "buf breaking skipped: not a git checkout"
    elif [[ "$branch" == "main" ]]; then
        note "buf breaking skipped: on main, which is the baseline"
    elif ! git show-ref --verify --quiet refs/heads/main; then
        note "buf breaking skipped: no local branch main to compare with"
    else
        note "buf breaking against main"
        "$BUF" breaking proto --against '.git#branch=main,subdir=proto'
    fi
}

if $lint; then
    phase "rustfmt"
    cargo fmt --all -- --check
    phase "clippy"
    cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
    phase "buf lint, format, breaking"
    lint_proto
else
    printf '\n==> lint skipped (--no-lint; CI always lints)\n'
fi

# ---------------------------------------------------------------------------------------------------
# PostgreSQL

PG_BIN=""

# Runs a command as the owner of the throwaway cluster: `postgres` when we are root, since initdb
# and postgres refuse to run as root; ourselves otherwise.
as_pg_owner() {
    if ((EUID != 0)); then
        "$@"
    elif command -v runuser >/dev/null; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
    fi
}

find_pg_bin() {
    local initdb candidate
    initdb="$(command -v initdb || true)"
    if [[ -n "$initdb" && -x "$(dirname "$initdb")/pg_ctl" ]]; then
        PG_BIN="$(dirname "$(readlink -f "$initdb")")"
        return 0
    fi
    # Debian keeps the server binaries off PATH; take the newest major version installed.
    candidate="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    if [[ -n "$candidate" && -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
        PG_BIN="$candidate"
        return 0
    fi
    return 1
}

free_loopback_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_answers() {
    command -v psql >/dev/null && psql "$1" -XAtq -c 'select 1' >/dev/null 2>&1
}

start_throwaway_pg() {
    if ! find_pg_bin; then
        ((EUID == 0)) ||
            fail "no PostgreSQL found: install it (Debian: postgresql) or set TENURE_TEST_PG_URL"
        note "no PostgreSQL found: installing Debian's postgresql package"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null
        find_pg_bin || fail "apt-get installed postgresql, but initdb and pg_ctl are still missing"
    fi
    if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
        fail "running as root without a 'postgres' user to own the throwaway cluster; set TENURE_TEST_PG_URL"
    fi

    # A run that was killed may have left its cluster running: stop it and start over.
    local root="$SCRATCH/pg" previous=""
    [[ -f "$PG_LOCATION_FILE" ]] && previous="$(cat "$PG_LOCATION_FILE")"
    if [[ "$previous" == "$root" || "$previous" == */tenure-test-pg.* ]] && [[ -d "$previous" ]]; then
        throwaway_pg_data="$previous/data"
        stop_throwaway_pg
        rm -rf "$previous"
    fi
    rm -rf "$root"
    mkdir -p "$root"
    if ((EUID == 0)); then
        chown postgres: "$root"
        if ! as_pg_owner test -w "$root"; then
            # The checkout sits where `postgres` cannot reach (under /root, say): use a temporary
            # directory instead, removed on exit like the one under target/.
            rm -rf "$root"
            root="$(mktemp -d "${TMPDIR:-/tmp}/tenure-test-pg.XXXXXX")"
            chown postgres: "$root"
        fi
    fi
    throwaway_pg_root="$root"
    throwaway_pg_data="$root/data"
    printf '%s' "$root" >"$PG_LOCATION_FILE"

    local port socket_dir
    port="$(free_loopback_port)"
    socket_dir="$root/socket"
    # A Unix socket path is limited to 107 bytes; a deep checkout goes without one (tests use TCP).
    if ((${#socket_dir} + 20 > 107)); then
        socket_dir=""
    else
        as_pg_owner mkdir -p "$socket_dir"
    fi

    note "initdb $throwaway_pg_data ($("$PG_BIN/postgres" --version))"
    as_pg_owner "$PG_BIN/initdb" -D "$throwaway_pg_data" -U postgres -A trust -E UTF8 --no-locale \
        --no-sync >"$SCRATCH/pg-initdb.log" 2>&1 ||
        fail "initdb failed; see target/tenure-test/pg-initdb.log"
    # Durability is worthless for a cluster that is deleted on exit; speed is not.
    as_pg_owner "$PG_BIN/pg_ctl" -D "$throwaway_pg_data" -l "$root/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$socket_dir' \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null ||
        fail "the throwaway PostgreSQL did not start; its log: $root/server.log"

    TENURE_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
    local tries=0
    until pg_answers "$TENURE_TEST_PG_URL"; do
        ((++tries < 60)) || fail "the throwaway PostgreSQL on port $port does not answer"
        sleep 0.5
    done
    note "throwaway cluster on 127.0.0.1:$port (stopped and removed on exit)"
}

# Drops test databases (`t_<uuid>`), their login roles (`t_<uuid>_<role>`) and templates
# (`tenure_tpl_*`) that a crashed or killed earlier run left behind. Another run may share the
# server, so only databases nobody is connected to go, without FORCE, and only when older than
# anything a live run can still use: a test database is created before this run began by more than
# the longest test may take (nextest kills a test after 10 minutes), a template (reused by every test
# of one build) more than a day before. Each statement runs alone and may fail: what someone uses
# meanwhile stays for a later sweep.
sweep_leftover_databases() {
    if ! command -v psql >/dev/null; then
        note "leftover sweep skipped: psql is not installed"
        return 0
    fi
    local drop_databases drop_roles
    if ! drop_databases="$(
        psql "$TENURE_TEST_PG_URL" -XAtq -v ON_ERROR_STOP=1 -v started="$RUN_STARTED_EPOCH" <<'SQL'
select case when d.datistemplate then format('ALTER DATABASE %I IS_TEMPLATE false;', d.datname) || chr(10)
            else '' end
       || format('DROP DATABASE IF EXISTS %I;', d.datname)
from pg_database d
where (d.datname ~ '^t_[0-9a-f]{32}$' or d.datname like 'tenure\_tpl\_%')
  and not exists (select 1 from pg_stat_activity a where a.datid = d.oid)
  and (pg_stat_file('base/' || d.oid || '/PG_VERSION', true)).modification
      < to_timestamp(:started) - case when d.datname like 't\_%' then interval '15 minutes'
                                      else interval '1 day' end
order by d.datname;
SQL
    )"; then
        note "leftover sweep skipped: listing failed (it needs a superuser to read database ages)"
        return 0
    fi
    if [[ -n "$drop_databases" ]]; then
        psql "$TENURE_TEST_PG_URL" -Xq -v ON_ERROR_STOP=0 <<<"$drop_databases" >/dev/null 2>&1 || true
    fi
    drop_roles="$(
        psql "$TENURE_TEST_PG_URL" -XAtq <<'SQL' || true
select format('DROP ROLE IF EXISTS %I;', r.rolname)
from pg_roles r
where r.rolname ~ '^t_[0-9a-f]{32}_'
  and not exists (select 1 from pg_database d where d.datname = substring(r.rolname from 1 for 34))
order by r.rolname;
SQL
    )"
    if [[ -n "$drop_roles" ]]; then
        psql "$TENURE_TEST_PG_URL" -Xq -v ON_ERROR_STOP=0 <<<"$drop_roles" >/dev/null 2>&1 || true
    fi
    note "leftovers swept: $(grep -c '^DROP' <<<"$drop_databases" || true) database(s)," \
        "$(grep -c '^DROP' <<<"$drop_roles" || true) role(s)"
}

redacted_url() { sed -E 's#://([^:@/]+):[^@/]*@#://\1:***@#' <<<"$1"; }

phase "postgresql"
if [[ "${TENURE_TEST_PG_THROWAWAY:-0}" == "1" ]]; then
    note "TENURE_TEST_PG_THROWAWAY=1: using a throwaway cluster"
    start_throwaway_pg
elif [[ -n "${TENURE_TEST_PG_URL:-}" ]]; then
    if command -v psql >/dev/null && ! pg_answers "$TENURE_TEST_PG_URL"; then
        fail "TENURE_TEST_PG_URL ($(redacted_url "$TENURE_TEST_PG_URL")) does not answer 'select 1'"
    fi
    note "using TENURE_TEST_PG_URL as given"
elif command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 &&
    pg_answers "postgres://postgres@127.0.0.1:5432/postgres"; then
    TENURE_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
    note "using the local server at 127.0.0.1:5432"
else
    note "nothing usable at 127.0.0.1:5432: starting a throwaway cluster"
    start_throwaway_pg
fi
export TENURE_TEST_PG_URL
note "TENURE_TEST_PG_URL=$(redacted_url "$TENURE_TEST_PG_URL")"
sweep_leftover_databases

# ---------------------------------------------------------------------------------------------------
# moto (tests start their own moto_server from this virtualenv through the testkit)

phase "moto virtualenv"
moto_venv="$SCRATCH/moto"
moto_marker="$moto_venv/.tenure-pins"
# A virtualenv is only valid where it was made (its scripts name its path), hence the shebang check.
if [[ -x "$moto_venv/bin/moto_server" && -f "$moto_marker" ]] &&
    [[ "$(cat "$moto_marker")" == "${MOTO_PINS[*]}" ]] &&
    [[ "$(head -n 1 "$moto_venv/bin/moto_server")" == "#!$moto_venv/bin/python"* ]] &&
    "$moto_venv/bin/python" -c 'import moto' 2>/dev/null; then
    note "${MOTO_PINS[*]} (cached)"
else
    command -v python3 >/dev/null || fail "python3 (3.9 or later, with venv and pip) is needed for moto"
    note "installing ${MOTO_PINS[*]} into target/tenure-test/moto"
    rm -rf "$moto_venv"
    python3 -m venv "$moto_venv" ||
        fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$moto_venv/bin/pip" install -q --disable-pip-version-check "${MOTO_PINS[@]}" ||
        fail "pip could not install ${MOTO_PINS[*]}: is the Python package index reachable?"
    printf '%s' "${MOTO_PINS[*]}" >"$moto_marker"
fi
export TENURE_TEST_MOTO_VENV="$moto_venv"

# ---------------------------------------------------------------------------------------------------
# promtool (Debian's prometheus package), for the checks of deploy/prometheus and of a real scrape

phase "promtool"
if ! command -v promtool >/dev/null; then
    ((EUID == 0)) || fail "promtool is needed: install Debian's prometheus package (or run as root)"
    note "installing Debian's prometheus package for promtool"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # promtool is all the tests use; the server the package also ships is never started by them.
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null ||
        fail "apt-get could not install prometheus"
fi
TENURE_TEST_PROMTOOL="$(command -v promtool)" || fail "promtool is still missing"
export TENURE_TEST_PROMTOOL
note "$("$TENURE_TEST_PROMTOOL" --version 2>&1 | head -n 1)"

# ---------------------------------------------------------------------------------------------------
# The tenure binary, for tests that run services as child processes

phase "build tenure"
cargo build --locked --bin tenure
target_dir="$(cargo metadata --format-version 1 --no-deps --locked 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null ||
    printf '%s' "$ROOT/target")"
export TENURE_BIN="$target_dir/debug/tenure"
[[ -x "$TENURE_BIN" ]] || fail "cargo build did not produce $TENURE_BIN"
note "TENURE_BIN=$TENURE_BIN"

# ---------------------------------------------------------------------------------------------------
# Tests

phase "tests"
if cargo nextest --version >/dev/null 2>&1; then
    nextest=(cargo nextest run --workspace --locked --profile ci)
    "${nextest[@]}" -- ${runner_args[@]+"${runner_args[@]}"}
else
    note "cargo-nextest is not installed: using cargo test"
    harness=(--test-threads 2)
    cargo test --workspace --locked -- "${harness[@]}" ${runner_args[@]+"${runner_args[@]}"}
fi

phase "stray snapshots"
stray="$(find . -path ./target -prune -o \( -name '*.snap.new' -o -name '*.pending-snap' \) -print)"
if [[ -n "$stray" ]]; then
    printf '%s\n' "$stray"
    fail "unreviewed snapshots: run 'cargo insta review', then commit or delete them"
fi
note "none"
