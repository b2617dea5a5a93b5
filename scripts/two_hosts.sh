#!/usr/bin/env bash
# Two app hosts (gunicorn + job consumer each) against one PostgreSQL and one Redis, on
# 127.0.0.1: write an expert on host A, show host B ranking it (and the time it took), and
# queue jobs that the two consumers share, each run exactly once; a rebuild on host A (flask
# reindex) makes host B's consumer build a base of its own (each host has its own INDEX_DIR;
# the newest generation is recorded in the database). Everything it starts it stops.
# Needs Debian's redis-server and a PostgreSQL server on 127.0.0.1:5432 (user postgres); if
# none answers, one is started from the Debian package's binaries in a scratch directory.
# Ports: PORT_A (8102), PORT_B (8112), REDIS_PORT (6402).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_env.sh requirements.txt
PORT_A="${PORT_A:-8102}"; PORT_B="${PORT_B:-8112}"; REDIS_PORT="${REDIS_PORT:-6402}"
TMP="$(mktemp -d /tmp/two-hosts-XXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${DB:-}" ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$DB" 2>/dev/null || true
  [ -n "${PGDATA_OWN:-}" ] && su postgres -c "pg_ctl -D $PGDATA_OWN -m fast stop" >/dev/null 2>&1 || true
}
trap cleanup EXIT

command -v redis-server >/dev/null || { apt-get install -y -q redis-server >/dev/null; }
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  PGDATA_OWN="$TMP/pg"; mkdir -p "$PGDATA_OWN"; chown postgres "$PGDATA_OWN"
  su postgres -c "initdb -D $PGDATA_OWN -A trust -U postgres" >/dev/null
  su postgres -c "pg_ctl -D $PGDATA_OWN -o '-p 5432 -k /tmp' -l $TMP/pg.log start" >/dev/null
  until pg_isready -h 127.0.0.1 -p 5432 -q; do sleep 0.5; done
fi
DB="two_hosts_$$"
createdb -h 127.0.0.1 -U postgres "$DB"
export DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$DB"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export SEMANTIC_ENABLED=0 JSON_LOGS=1 WORKERS=2 PYTHONUNBUFFERED=1
.venv/bin/flask --app app init-db >/dev/null
.venv/bin/python -c "from app import create_app; from app.services import demo_loader
db = create_app().extensions['db']
with db.unit_of_work() as s: demo_loader.load(s, n_experts=300, n_demands=50)" 2>/dev/null
INST="$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "select name from institution order by id limit 1")"
TOKEN="$(.venv/bin/flask --app app create-api-client 双机测试 --scope read --scope rank \
  --scope push_experts --institution "$INST" | tail -1)"
for host in A B; do
  port=$PORT_A; [ "$host" = B ] && port=$PORT_B
  PORT=$port INDEX_DIR="$TMP/index-$host" .venv/bin/gunicorn --config scripts/gunicorn_conf.py \
    wsgi:app >"$TMP/web-$host.log" 2>&1 &
  PIDS+=($!)
  INDEX_DIR="$TMP/index-$host" .venv/bin/flask --app app jobs-worker \
    --workers 2 >"$TMP/jobs-$host.log" 2>&1 &
  PIDS+=($!)
done
# the newest complete base of a host (the name ends with the time it was written)
newest() { ls "$TMP/index-$1" | grep '^experts-v' | sort | tail -1; }
for port in $PORT_A $PORT_B; do
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.5; done
done
echo "==> host A :$PORT_A and host B :$PORT_B up (PostgreSQL $DB, Redis :$REDIS_PORT)"
api() { curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
api -X POST "http://127.0.0.1:$PORT_B/api/v1/match" -d '{"text":"warm up 锂电池","top":1}' >/dev/null
WORD="钙钛矿叠层光伏组件封装湿热老化"
PUT="$(api -X PUT "http://127.0.0.1:$PORT_A/api/v1/experts" -d "{\"experts\":[{\"institution\":\"$INST\",\"name\":\"双机测试专家\",\"research_fields\":\"$WORD\",\"items\":[{\"title\":\"$WORD 研究\"}]}]}")"
echo "==> PUT an expert on host A: $PUT"
echo "$PUT" | grep -q '"ids":\[' || { echo "the push was refused"; exit 1; }
NEW_ID="$(echo "$PUT" | sed -E 's/.*"ids":\[([0-9]+)\].*/\1/')"
START=$(date +%s.%N)
while true; do
  TOP="$(api -X POST "http://127.0.0.1:$PORT_B/api/v1/match" -d "{\"text\":\"$WORD\",\"top\":1}")"
  if echo "$TOP" | grep -q "\"expert_id\":$NEW_ID,"; then break; fi
  if (( $(echo "$(date +%s.%N) - $START > 60" | bc) )); then
    echo "host B did not rank it within 60 s: ${TOP:0:300}"; exit 1
  fi
  sleep 0.2
done
TOOK="$(echo "$(date +%s.%N) - $START" | bc)"
echo "==> written on host A, ranked first on host B after ${TOOK:0:5} s (bound: 5 s)"
(( $(echo "$TOOK <= 5" | bc) )) || { echo "host B took more than 5 s"; exit 1; }
BEFORE_B="$(newest B)"
echo "==> bases before the rebuild: host A $(newest A), host B $BEFORE_B"
START=$(date +%s.%N)
INDEX_DIR="$TMP/index-A" .venv/bin/flask --app app reindex 2>/dev/null | tail -1
echo "==> rebuilt on host A: $(newest A); newest generation recorded in the database: $(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "select updated_at from data_version where name = 'index_base'")"
for _ in $(seq 1 240); do
  [ "$(newest B)" != "$BEFORE_B" ] && break; sleep 0.25
done
[ "$(newest B)" != "$BEFORE_B" ] || { echo "host B built no new base within 60 s"; exit 1; }
echo "==> host B's consumer built its own base $(newest B) $(echo "$(date +%s.%N) - $START" | bc | cut -c1-5) s after the rebuild on A"
# the consumer logs the build just after renaming the base into place: wait for the line
for _ in $(seq 1 40); do
  grep -q 'follows the newest generation' "$TMP/jobs-B.log" && break; sleep 0.25
done
grep -h 'follows the newest generation' "$TMP/jobs-B.log" | tail -1 \
  || { echo "host B's consumer logged no build of the new generation"; exit 1; }
TOP="$(api -X POST "http://127.0.0.1:$PORT_B/api/v1/match" -d "{\"text\":\"$WORD\",\"top\":1}")"
echo "$TOP" | grep -q "\"expert_id\":$NEW_ID," || { echo "host B lost the expert: ${TOP:0:300}"; exit 1; }
echo "==> host B still ranks the expert first on its new base"
IDS="$(.venv/bin/flask --app app jobs-enqueue index --count 10)"
for _ in $(seq 1 240); do
  LEFT="$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "select count(*) from background_job where status in ('queued','running')")"
  [ "$LEFT" = 0 ] && break; sleep 0.5
done
echo "==> 10 index jobs ($IDS): rows by status and consumer"
psql -h 127.0.0.1 -U postgres -d "$DB" -c "select status, worker, count(*) from background_job where kind = 'index' group by 1, 2 order by 2"
# only the 10 jobs queued here: the hosts may have folded their first delta before
RUNS=0
for id in $IDS; do
  RUNS=$((RUNS + $(cat "$TMP"/jobs-*.log | grep 'job finished' | grep -c "\"job\": $id," || true)))
done
echo "==> handler runs of those 10 jobs logged by both consumers: $RUNS (each job once: expect 10)"
[ "$RUNS" = 10 ]
sleep 6  # a consumer's next check (every 5 s) builds what the other host built
echo "==> newest bases after the jobs: host A $(newest A), host B $(newest B); builds that followed another host: A $(grep -c 'follows the newest generation' "$TMP/jobs-A.log" || true), B $(grep -c 'follows the newest generation' "$TMP/jobs-B.log" || true)"
