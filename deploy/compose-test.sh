#!/usr/bin/env bash
# Brings up deploy/compose.yaml (3 nodes), waits for 3 ready nodes and one
# leader, writes a ban through n2 and reads it on n3, docker-kills the
# leader's container and checks that writes resume on the survivors. The
# mesh is always torn down with its volumes (down -v), pass or fail.
# Needs the image (make image); talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")"

COMPOSE=${COMPOSE:-$(docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)}
PROJECT=${COMPOSE_PROJECT:-cassnet-test-$$}
export CASSNET_HTTP_1=${CASSNET_HTTP_1:-18181} CASSNET_HTTP_2=${CASSNET_HTTP_2:-18182} CASSNET_HTTP_3=${CASSNET_HTTP_3:-18183}
port() { local v="CASSNET_HTTP_${1#n}"; echo "${!v}"; }
dc() { $COMPOSE -p "$PROJECT" -f compose.yaml "$@"; }
tmp=$(mktemp -d)

cleanup() {
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "compose test FAILED; last logs:" >&2
    dc logs --no-color --tail 40 >&2 || true
  fi
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT

say() { echo "compose-test: $*"; }
fail() { echo "compose-test: $*" >&2; exit 1; }

# wait_for SECONDS CMD...: retry CMD every 0.5 s.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

api() { # api NODE METHOD PATH [BODY]
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $TOKEN")
  [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' -d "$4")
  curl "${args[@]}" --max-time 10 "http://127.0.0.1:$(port "$1")$3" || echo 000
}

# docker-compose v1 ignores pull_policy: never and would try to pull a
# missing image from the internet: refuse to start without it.
IMAGE=${CASSNET_IMAGE:-cassnet:dev}
docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "image $IMAGE is missing: run make image first"
say "up ($PROJECT, image $IMAGE, REST on 127.0.0.1:$CASSNET_HTTP_1-$CASSNET_HTTP_3)"
dc up -d >/dev/null

ready() { for n in n1 n2 n3; do curl -fs --max-time 2 "http://127.0.0.1:$(port $n)/v1/ready" >/dev/null || return 1; done; }
wait_for 90 ready || fail "3 nodes not ready within 90 s"
dc cp n1:/data/admin-token "$tmp/admin-token" 2>/dev/null ||
  docker cp "$(dc ps -q n1)":/data/admin-token "$tmp/admin-token"
TOKEN=$(tr -d '\n' <"$tmp/admin-token")

leader_of() { # prints the service whose node is the leader
  for n in n1 n2 n3; do
    [ "$(api "$n" GET /v1/cluster/raft)" = 200 ] && grep -q '"state":"Leader"' "$tmp/body" && { echo "$n"; return 0; }
  done
  return 1
}
three_voters() {
  [ "$(api n2 GET /v1/cluster/raft)" = 200 ] && [ "$(grep -o '"suffrage":"voter"' "$tmp/body" | wc -l)" -eq 3 ]
}
wait_for 60 three_voters || fail "no configuration of 3 voters: $(cat "$tmp/body")"
wait_for 30 leader_of >/dev/null || fail "no leader"
leader=$(leader_of)
say "3 nodes ready, 3 voters, leader $leader"

wait_for 20 eval '[ "$(api n2 POST /v1/tenants "{\"name\":\"studio\"}")" = 201 ]' || fail "create tenant through n2: $(cat "$tmp/body")"
code=$(api n2 POST /v1/tenants/studio/bans '{"player_id":"p1","reason":"compose test"}')
[ "$code" = 201 ] || fail "ban through n2: $code $(cat "$tmp/body")"
banned_on_n3() { [ "$(api n3 GET '/v1/tenants/studio/players/p1/ban?stale')" = 200 ] && grep -q '"banned":true' "$tmp/body"; }
wait_for 10 banned_on_n3 || fail "ban written through n2 not visible on n3: $(cat "$tmp/body")"
say "ban written through n2 is visible on n3"

docker kill "$(dc ps -q "$leader")" >/dev/null
killed=$(date +%s%N)
say "docker kill $leader (the leader)"
survivors=()
for n in n1 n2 n3; do [ "$n" = "$leader" ] || survivors+=("$n"); done
i=0
write_resumes() {
  i=$((i + 1))
  local n=${survivors[$((i % 2))]}
  [ "$(api "$n" POST /v1/tenants/studio/bans "{\"player_id\":\"after-kill-$i\",\"reason\":\"x\"}")" = 201 ]
}
wait_for 30 write_resumes || fail "writes did not resume after killing the leader: $(cat "$tmp/body")"
say "writes resumed $(( ($(date +%s%N) - killed) / 1000000 )) ms after the kill; new leader $(leader_of || echo '?')"
for n in "${survivors[@]}"; do
  wait_for 10 eval '[ "$(api "$n" GET "/v1/tenants/studio/players/after-kill-$i/ban?stale")" = 200 ] && grep -q "\"banned\":true" "$tmp/body"' ||
    fail "$n does not see the write after the kill"
done
say "PASS"
