#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests and benches: no systemd, no system cluster, loopback
# and a unix socket in the cluster's own directory only.
#
#   tools/ci/postgres.sh ensure            install PostgreSQL from the OS packages if initdb/pg_ctl are missing
#   tools/ci/postgres.sh start <dir>       initdb (once) and start a cluster in <dir>; prints its URL on stdout
#   tools/ci/postgres.sh url <dir>         print the URL of the cluster running in <dir>
#   tools/ci/postgres.sh stop <dir>        stop the cluster in <dir> (nothing to do if it is not running)
#   tools/ci/postgres.sh run <command...>  ensure, start a cluster in a temp dir, run the command with
#                                          TIDINGS_TEST_PG_URL set, stop and remove the cluster; exits
#                                          with the command's status
#
# Every subcommand is idempotent and quiet: only the URL goes to stdout; errors go to stderr and
# end the script with a non-zero status. As root the server runs as the `postgres` system user
# (created if missing), since PostgreSQL refuses to run as root.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

# The directory of initdb/pg_ctl: on PATH, else the newest /usr/lib/postgresql/<ver>/bin.
pg_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    # Explicit: a bare `return` in the EXIT trap would return the status the script is exiting with.
    return 0
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]] || return 1
  echo "$dir"
}

ensure() {
  pg_bin >/dev/null && return 0
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available"
  [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed; run '$0 ensure' as root (apt-get install -y postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
  # The package creates and starts a system cluster; ours are separate, so leave it alone.
  pg_bin >/dev/null || die "initdb/pg_ctl still not found after installing postgresql"
}

# Run a command as the cluster's owner: ourselves, or the postgres system user when we are root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

owner_setup() {
  [[ $(id -u) -eq 0 ]] || return 0
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres >/dev/null 2>&1 || die "cannot create the postgres user"
  fi
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();})"
}

url_of() {
  local dir=$1 port
  port=$(sed -n 's/^port = \([0-9]*\).*/\1/p' "$dir/data/postgresql.auto.conf" 2>/dev/null | tail -n 1)
  [[ -n "$port" ]] || die "no cluster in $dir"
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

running() {
  local bin=$1 dir=$2
  [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

start() {
  local dir=${1:-}
  [[ -n "$dir" ]] || die "usage: $0 start <dir>"
  local bin
  bin=$(pg_bin) || die "PostgreSQL is not installed (run '$0 ensure')"
  owner_setup
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # The unix socket path must stay under the kernel's 107-byte limit.
  (( ${#dir} < 90 )) || die "cluster directory path too long for a unix socket: $dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  if running "$bin" "$dir"; then
    url_of "$dir"
    return 0
  fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    local extra=''
    [[ -f "$("$bin/pg_config" --pkglibdir 2>/dev/null)/pg_stat_statements.so" ]] && extra="shared_preload_libraries = 'pg_stat_statements'"
    as_owner tee -a "$dir/data/postgresql.auto.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $(free_port)
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
max_connections = 300
shared_buffers = 128MB
logging_collector = off
$extra
EOF
  fi
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1 \
    || { tail -n 30 "$dir/server.log" >&2 || true; die "the cluster in $dir did not start"; }
  url_of "$dir"
}

stop() {
  local dir=${1:-}
  [[ -n "$dir" ]] || die "usage: $0 stop <dir>"
  [[ -d "$dir/data" ]] || return 0
  local bin
  bin=$(pg_bin) || die "PostgreSQL is not installed"
  running "$bin" "$dir" || return 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || die "the cluster in $dir did not stop"
}

run() {
  [[ $# -gt 0 ]] || die "usage: $0 run <command...>"
  ensure
  local url status=0
  # Global, not local: the EXIT trap runs after this function has returned.
  run_dir=$(mktemp -d /tmp/tidings-pg.XXXXXX)
  # Whatever happens to the command, the cluster goes away with us.
  trap 'stop "$run_dir" || true; rm -rf "$run_dir"' EXIT
  trap 'exit 130' INT TERM
  url=$(start "$run_dir")
  TIDINGS_TEST_PG_URL=$url "$@" || status=$?
  return "$status"
}

command=${1:-}
[[ $# -gt 0 ]] && shift
case "$command" in
  ensure) ensure ;;
  start) start "$@" ;;
  url) url_of "${1:?usage: $0 url <dir>}" ;;
  stop) stop "$@" ;;
  run) run "$@" ;;
  *) die "usage: $0 ensure | start <dir> | url <dir> | stop <dir> | run <command...>" ;;
esac
