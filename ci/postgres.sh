#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the distributed tests and print its URL.
# Installs Debian's postgresql package if it is missing. Password authentication is on for TCP,
# so a wrong password is refused, as on a real server.
set -euo pipefail
# a free loopback port unless one is given, so a server left running by an earlier run is no obstacle
PORT=${PEFTBENCH_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
DATA=$(mktemp -d /tmp/peftbench-pg.XXXXXX)
chown postgres "$DATA"
echo peftbench-admin > "$DATA/.pw"
chown postgres "$DATA/.pw"
runuser -u postgres -- "$BIN/initdb" -D "$DATA/db" -U postgres --pwfile="$DATA/.pw" \
  --auth-local=trust --auth-host=scram-sha-256 >/dev/null
runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA/db" -l "$DATA/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c max_connections=200" start >/dev/null
runuser -u postgres -- psql -q -h "$DATA" -p "$PORT" -U postgres \
  -c "CREATE USER peftbench PASSWORD 'peftbench' CREATEDB" -c "CREATE DATABASE peftbench OWNER peftbench" >/dev/null
echo "postgresql://peftbench:peftbench@127.0.0.1:$PORT/peftbench"
