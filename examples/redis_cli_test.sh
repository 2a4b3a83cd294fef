#!/usr/bin/env bash
# redis_cli_test.sh <redis_server program>: drives the redis_server example
# with the real redis-cli (Debian package redis-tools) and checks every answer.
#
# The server is started on 127.0.0.1 port 0 (it prints the port it got), and
# stopped by its pid when the script ends, however it ends. Every redis-cli
# call is bounded by `timeout`. Exit 77 (ctest's "skipped") only when
# redis-cli is not installed; tools/dev installs redis-tools wherever the
# examples are built.
set -u

server="${1:?usage: redis_cli_test.sh <redis_server program>}"
if ! command -v redis-cli >/dev/null 2>&1; then
  echo "SKIPPED: redis-cli not found; install the Debian package redis-tools (tools/dev examples does)"
  exit 77
fi

tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*"
  echo "--- server output:"
  cat "$tmp/server.out" 2>/dev/null
  exit 1
}

"$server" 0 >"$tmp/server.out" 2>&1 &
pid=$!

# The server prints "redis server listening on 127.0.0.1:PORT" once it listens.
port=""
for _ in $(seq 100); do
  port="$(sed -n 's/^redis server listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/server.out")"
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || fail "the server exited before listening"
  sleep 0.1
done
[[ -n "$port" ]] || fail "the server did not say which port it listens on within 10 s"

cli() { timeout 20 redis-cli -h 127.0.0.1 -p "$port" "$@"; }

checks=0
# expect <expected output> <redis-cli arguments...>: runs one command.
expect() {
  local want="$1" got
  shift
  got="$(cli "$@" 2>&1)" || fail "redis-cli $* exited with $?: $got"
  [[ "$got" == "$want" ]] || fail "redis-cli $*: expected '$want', got '$got'"
  echo "redis-cli $* -> ${got:-(nil)}"
  checks=$((checks + 1))
}
# expect_error <expected message> <redis-cli arguments...>: redis-cli prints
# an error reply's message (and, in some versions, a blank line after it).
expect_error() {
  local want="$1" got
  shift
  got="$(cli "$@" 2>&1)" || fail "redis-cli $* exited with $?: $got"
  [[ "$(printf '%s\n' "$got" | head -n 1)" == "$want" ]] || fail "redis-cli $*: expected error '$want', got '$got'"
  echo "redis-cli $* -> $want"
  checks=$((checks + 1))
}

expect "PONG" PING
expect "hello world" PING "hello world"
expect "OK" SET greeting hello
expect "hello" GET greeting
expect "" GET missing
expect "1" INCR counter
expect "2" INCR counter
expect_error "ERR value is not an integer or out of range" INCR greeting
expect "2" EXISTS greeting counter missing
expect "2" DEL greeting counter missing
expect "" GET greeting
expect "goroutines all the way down" ECHO "goroutines all the way down"
expect_error "ERR wrong number of arguments for 'get' command" GET
expect_error "ERR unknown command 'FLY', with args beginning with: 'away' " FLY away

# Several commands on one connection, read from stdin by redis-cli.
got="$(printf 'SET k v\nGET k\nINCR n\nINCR n\nDEL k\n' | cli 2>&1)" || fail "redis-cli with commands on stdin failed: $got"
[[ "$got" == $'OK\nv\n1\n2\n1' ]] || fail "commands on stdin: got '$got'"
echo "5 commands through stdin -> OK v 1 2 1"
checks=$((checks + 1))

# Pipelining: 1000 SETs and 1000 INCRs in RESP, written by redis-cli --pipe
# without waiting for replies (it then sends an ECHO and waits for its reply).
for i in $(seq 1000); do
  printf '*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\n%d\r\n*2\r\n$4\r\nINCR\r\n$5\r\npiped\r\n' \
    "$((4 + ${#i}))" "$i" "${#i}" "$i"
done >"$tmp/pipe.resp"
got="$(timeout 60 redis-cli -h 127.0.0.1 -p "$port" --pipe <"$tmp/pipe.resp" 2>&1)" ||
  fail "redis-cli --pipe exited with $?: $got"
[[ "$got" == *"errors: 0, replies: 2000"* ]] || fail "redis-cli --pipe: got '$got'"
echo "redis-cli --pipe, 2000 commands -> errors: 0, replies: 2000"
checks=$((checks + 1))
expect "1000" GET piped
expect "500" GET key:500
expect "1002" DBSIZE  # key:1..key:1000, piped, n

# Inline commands, three in one write over a raw socket (what you would type
# into telnet), answered in order.
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to 127.0.0.1:$port"
printf 'PING\r\nSET inline yes\r\nGET inline\r\n' >&3
replies=""
for _ in 1 2 3 4; do
  IFS= read -r -t 10 line <&3 || fail "inline commands: no reply (so far: '$replies')"
  replies+="${line%$'\r'}|"
done
exec 3>&-
[[ "$replies" == "+PONG|+OK|\$3|yes|" ]] || fail "inline commands: got '$replies'"
echo "inline PING, SET, GET in one write -> +PONG +OK \$3 yes"
checks=$((checks + 1))

kill -0 "$pid" 2>/dev/null || fail "the server died"
echo "redis-cli: $checks checks passed"
