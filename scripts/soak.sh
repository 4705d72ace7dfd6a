#!/usr/bin/env bash
# Soak run of `errwatch run`: generated traffic through a local Kafka cluster into ClickHouse for
# a long time, while errwatch is killed with SIGKILL and ClickHouse is restarted, then checks
# that every error reached ClickHouse exactly once and that errwatch's memory stayed flat.
# Not part of CI: it takes as long as it is told to, plus a few minutes.
#
#   scripts/soak.sh DURATION        e.g. scripts/soak.sh 30m   (DURATION: 90, 90s, 30m or 2h)
#
# 1. builds errwatch and examples/local_kafka.rs in release mode and copies both binaries into
#    the run's directory, so a build by someone else during the soak cannot swap them;
# 2. starts a ClickHouse server of its own (scripts/clickhouse.sh with its own directory,
#    target/clickhouse-soak, and ports 38123/39000, so the test and benchmark servers are left
#    alone) and drops the database errwatch_soak, so that every run starts empty;
# 3. starts local_kafka (librdkafka's mock brokers in a process of their own: they keep the
#    records and the committed offsets while errwatch dies), with one topic of several partitions;
# 4. runs `errwatch generate --scenario tour` into the topic for DURATION at a fixed rate, and
#    `errwatch run` consuming it into the database errwatch_soak;
# 5. meanwhile kills errwatch with SIGKILL at random intervals and starts it again at once, and
#    restarts ClickHouse (stop, a few seconds down, start) every few minutes, independently, so
#    that some kills fall while ClickHouse is away; samples the resident memory (VmRSS) of
#    errwatch, the Kafka process and ClickHouse every 10 s;
# 6. when the generator is done: waits until errwatch has caught up (ClickHouse holds as many
#    errors as were produced, the consumer lag in /metrics is 0, and the count has not moved
#    for 30 s), stops errwatch with SIGTERM, and checks:
#    - the generator's error count equals what `errwatch classify` finds in the same stream
#      (generated again from the same seed and start), so the counts below mean what they say;
#    - api_errors holds exactly that many rows, no source position (topic, partition, offset)
#      twice, and the lookup table (the rows with a correlation id) and the per-minute roll-up
#      agree with it;
#    - quarantine holds as many rows as the stream has unreadable records;
#    - the final SIGTERM ends errwatch with status 0;
# 7. prints the figures and errwatch's RSS per 5-minute window (min, median, max), and exits
#    non-zero when any check fails.
#
# Everything the run writes goes to target/soak/<UTC start time>/: one log per errwatch process
# (errwatch-NNN.log), generate.log, local_kafka.log, events.log (each kill and restart, with
# its time), rss.tsv, summary.txt, and the binaries. On exit, whatever way it ends, the script
# stops every process it started, including its ClickHouse server; the server's data stays in
# target/clickhouse-soak for inspection (start it again with the same environment as below and
# query the database errwatch_soak).
#
# Settings (environment):
#   ERRWATCH_SOAK_RATE              records per second produced             (default 200)
#   ERRWATCH_SOAK_PARTITIONS        partitions of the topic                 (default 6)
#   ERRWATCH_SOAK_SEED              the generator's seed                    (default: random)
#   ERRWATCH_SOAK_KILL_EVERY        seconds between SIGKILLs, MIN-MAX       (default 60-180)
#   ERRWATCH_SOAK_CLICKHOUSE_EVERY  seconds between ClickHouse restarts     (default 300-480)
#   ERRWATCH_SOAK_CLICKHOUSE_DOWN   seconds ClickHouse stays down, MIN-MAX  (default 5-20)
#   ERRWATCH_SOAK_CATCH_UP_TIMEOUT  seconds to wait for errwatch to catch up (default 600)
#
# The rate is bounded by the mock cluster, which keeps only the last 5 MiB of each partition:
# records are keyed by service, so one partition carries up to about 45% of the traffic, some
# 20 KB/s at 200 records/s of ~225 bytes (compression barely helps batches this small). That
# leaves errwatch about four minutes of being down or stalled before the oldest unread records
# of that partition would be dropped, against the ~20-30 s that a kill or a ClickHouse restart
# costs. A much higher rate risks records lost in the cluster, which the checks would blame on
# errwatch (the summary counts librdkafka's offset resets, which would show it).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

[[ $# -eq 1 && $1 != -h && $1 != --help ]] || usage

# ---------------------------------------------------------------------------------------------
# Settings

duration_text=$1
if [[ $duration_text =~ ^([0-9]+)(s|m|h)?$ ]]; then
    case ${BASH_REMATCH[2]} in
    h) duration=$((10#${BASH_REMATCH[1]} * 3600)) ;;
    m) duration=$((10#${BASH_REMATCH[1]} * 60)) ;;
    *) duration=$((10#${BASH_REMATCH[1]})) ;;
    esac
else
    echo "soak.sh: '$duration_text' is not a duration; write e.g. 90s, 30m or 2h" >&2
    exit 2
fi
((duration > 0)) || {
    echo "soak.sh: the duration must be positive" >&2
    exit 2
}

rate=${ERRWATCH_SOAK_RATE:-200}
partitions=${ERRWATCH_SOAK_PARTITIONS:-6}
seed=${ERRWATCH_SOAK_SEED:-$(((RANDOM << 30) | (RANDOM << 15) | RANDOM))}
kill_every=${ERRWATCH_SOAK_KILL_EVERY:-60-180}
clickhouse_every=${ERRWATCH_SOAK_CLICKHOUSE_EVERY:-300-480}
clickhouse_down=${ERRWATCH_SOAK_CLICKHOUSE_DOWN:-5-20}
catch_up_timeout=${ERRWATCH_SOAK_CATCH_UP_TIMEOUT:-600}

for name in rate partitions seed catch_up_timeout; do
    [[ ${!name} =~ ^[0-9]+$ ]] || {
        echo "soak.sh: $name must be a whole number, not '${!name}'" >&2
        exit 2
    }
done
for name in kill_every clickhouse_every clickhouse_down; do
    if ! [[ ${!name} =~ ^([0-9]+)-([0-9]+)$ ]] || ((BASH_REMATCH[1] > BASH_REMATCH[2])); then
        echo "soak.sh: $name must be MIN-MAX in seconds, not '${!name}'" >&2
        exit 2
    fi
done

topic=mde-client-logs
group="errwatch-soak"
database=errwatch_soak
target_dir=${CARGO_TARGET_DIR:-target}
# The soak's own ClickHouse: a directory and ports of its own, so that the test server (18123)
# and the benchmark server (28123) are never restarted by the soak.
export ERRWATCH_CLICKHOUSE_HOME=$target_dir/clickhouse-soak
export ERRWATCH_CLICKHOUSE_HTTP_PORT=38123
export ERRWATCH_CLICKHOUSE_TCP_PORT=39000
# A configuration file in the environment would change what errwatch does.
unset ERRWATCH_CONFIG

run_dir=$target_dir/soak/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$run_dir/bin"
run_dir=$(cd "$run_dir" && pwd)
events=$run_dir/events.log
started=$SECONDS # reset when the traffic starts; the RSS samples count from there

say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$events" >&2; }
section() { printf '\n== %s  [%s, load %s]\n' "$*" "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)" >&2; }

random_between() { # MIN-MAX -> a whole number in [MIN, MAX]
    local min=${1%-*} max=${1#*-}
    echo $((min + RANDOM % (max - min + 1)))
}

# True if the process exists and is not a zombie.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

rss_kib() { # PID -> VmRSS in KiB, or nothing
    if [[ -n $1 ]]; then
        sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || true
    fi
}

# ---------------------------------------------------------------------------------------------
# Clean-up: every process started here goes when the script ends, however it ends.

generator_pid=
errwatch_pid=
kafka_pid=
sampler_pid=
clickhouse_started=

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    local pid
    for pid in $sampler_pid $clickhouse_restart_pid $generator_pid $errwatch_pid; do
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    if [[ -n $kafka_pid ]]; then
        # Closing its standard input is its signal to stop; the kill is for a stuck one.
        [[ -n ${kafka_stdin:-} ]] && exec {kafka_stdin}>&-
        for _ in {1..50}; do
            alive "$kafka_pid" || break
            sleep 0.1
        done
        alive "$kafka_pid" && kill -KILL "$kafka_pid" 2>/dev/null
    fi
    if [[ -n $clickhouse_started ]]; then
        ./scripts/clickhouse.sh stop 2>>"$events"
        echo "soak.sh: the soak's ClickHouse data stays in $ERRWATCH_CLICKHOUSE_HOME; to look at it:" \
            "ERRWATCH_CLICKHOUSE_HOME=$ERRWATCH_CLICKHOUSE_HOME ERRWATCH_CLICKHOUSE_HTTP_PORT=38123" \
            "ERRWATCH_CLICKHOUSE_TCP_PORT=39000 scripts/clickhouse.sh, then database $database" >&2
    fi
    wait 2>/dev/null # reaps the killed processes without the shell's "Killed" lines
    echo "soak.sh: logs and figures in $run_dir" >&2
    exit "$status"
}
trap cleanup EXIT
# Let an interrupt run the clean-up above.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Start

section "machine"
{
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores;" \
        "memory: $(free -g | awk '/^Mem:/ { print $2 }') GiB"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "duration: ${duration}s; rate: $rate records/s; partitions: $partitions; seed: $seed"
    echo "kill every: ${kill_every}s; ClickHouse restart every: ${clickhouse_every}s, down ${clickhouse_down}s"
} | tee "$run_dir/summary.txt" >&2

section "build"
cargo build --release --bin errwatch --example local_kafka
cp "$target_dir/release/errwatch" "$target_dir/release/examples/local_kafka" "$run_dir/bin/"
errwatch=$run_dir/bin/errwatch

section "ClickHouse for the soak"
clickhouse_started=yes
url=$(./scripts/clickhouse.sh)
query() { # SQL -> the answer, from the soak's server
    curl -fsS --max-time 30 "$url/" --data-binary "$1"
}
query "DROP DATABASE IF EXISTS $database"
say "ClickHouse at $url, database $database dropped"

section "Kafka"
# local_kafka runs until its standard input closes: a fifo held open by this shell, so that it
# also stops if this script is killed before its clean-up can run. Every long-lived process
# started after it is started without that descriptor ({kafka_stdin}>&-): one that inherited
# it, the ClickHouse server above all, would keep the cluster up after the script is gone.
mkfifo "$run_dir/kafka.stdin"
"$run_dir/bin/local_kafka" --topic "$topic" --partitions "$partitions" \
    <"$run_dir/kafka.stdin" >"$run_dir/kafka.out" 2>"$run_dir/local_kafka.log" &
kafka_pid=$!
exec {kafka_stdin}>"$run_dir/kafka.stdin"
deadline=$((SECONDS + 30))
until [[ -s $run_dir/kafka.out ]]; do
    alive "$kafka_pid" || {
        cat "$run_dir/local_kafka.log" >&2
        say "local_kafka exited during startup"
        exit 1
    }
    ((SECONDS < deadline)) || {
        say "local_kafka printed no address within 30 s"
        exit 1
    }
    sleep 0.2
done
brokers=$(head -n 1 "$run_dir/kafka.out")
say "Kafka (local_kafka, pid $kafka_pid) at $brokers, topic $topic with $partitions partitions"

# ---------------------------------------------------------------------------------------------
# errwatch, killed and restarted

errwatch_starts=0
errwatch_log=
kills=0
kills_while_clickhouse_down=0
exits_at_start=0
exits_while_running=0
clickhouse_restarts=0
clickhouse_restart_pid=

# The group keeps a killed member's partitions until its session times out: with librdkafka's
# default of 45 s every kill would stall consumption for 45 s, so the soak uses 6 s, as the
# pipeline tests do. librdkafka's topic debugging logs the offset each partition is read from
# ("start fetching at offset N"), which the summary sets against what ClickHouse already held.
start_errwatch() {
    errwatch_starts=$((errwatch_starts + 1))
    errwatch_log=$run_dir/$(printf 'errwatch-%03d.log' "$errwatch_starts")
    ERRWATCH_CLICKHOUSE_URL=$url ERRWATCH_CLICKHOUSE_DATABASE=$database \
        ERRWATCH_KAFKA_BROKERS=$brokers ERRWATCH_KAFKA_TOPICS=$topic ERRWATCH_KAFKA_GROUP=$group \
        ERRWATCH_HTTP_ADDR=127.0.0.1:0 ERRWATCH_LOG=info,errwatch::source::kafka=debug \
        "$errwatch" run --kafka-option session.timeout.ms=6000 --kafka-option heartbeat.interval.ms=500 \
        --kafka-option debug=topic </dev/null >"$errwatch_log" 2>&1 {kafka_stdin}>&- &
    errwatch_pid=$!
    echo "$errwatch_pid" >"$run_dir/errwatch.pid"
    say "errwatch #$errwatch_starts started (pid $errwatch_pid, log $(basename "$errwatch_log"))"
}

# An errwatch that ended without being killed: note how, then start another, as a service
# manager would. Exiting at start because ClickHouse is down is expected (it is checked once,
# before consuming); any other exit is a finding, and its log is shown.
errwatch_exited() {
    local status=0
    wait "$errwatch_pid" 2>/dev/null || status=$?
    if grep -q ' consuming ' "$errwatch_log"; then
        exits_while_running=$((exits_while_running + 1))
        say "errwatch #$errwatch_starts (pid $errwatch_pid) exited by itself with status $status while consuming;" \
            "last lines of its log:"
        tail -n 20 "$errwatch_log" | sed 's/^/    /' | tee -a "$events" >&2
    else
        exits_at_start=$((exits_at_start + 1))
        say "errwatch #$errwatch_starts exited with status $status before consuming:" \
            "$(tail -n 1 "$errwatch_log")"
    fi
    sleep 2
    start_errwatch
}

kill_errwatch() {
    local during=
    kill -KILL "$errwatch_pid"
    wait "$errwatch_pid" 2>/dev/null || true
    kills=$((kills + 1))
    if alive "$clickhouse_restart_pid"; then
        kills_while_clickhouse_down=$((kills_while_clickhouse_down + 1))
        during=", during a ClickHouse restart"
    fi
    say "errwatch #$errwatch_starts (pid $errwatch_pid) killed with SIGKILL (kill $kills$during)"
}

# Runs in the background (restart_clickhouse N &), so that kills go on while ClickHouse is away:
# a process that dies holding records it could not store is part of the test.
restart_clickhouse() {
    local down
    down=$(random_between "$clickhouse_down")
    say "ClickHouse restart $1: stopping, ${down}s down"
    ./scripts/clickhouse.sh stop 2>>"$events"
    sleep "$down"
    if ./scripts/clickhouse.sh >/dev/null 2>>"$events"; then
        say "ClickHouse restart $1: up again"
    else
        say "ClickHouse restart $1: the server did not start again"
    fi
}

# Resident memory every 10 s, in its own process: errwatch (whichever is current), the Kafka
# process and ClickHouse, in KiB; empty when the process is not running at that moment.
sample_rss() {
    local pid clickhouse_pid
    printf 'time\tseconds\terrwatch_pid\terrwatch_rss_kib\tkafka_rss_kib\tclickhouse_rss_kib\n'
    while alive "$$"; do
        pid=$(cat "$run_dir/errwatch.pid" 2>/dev/null || true)
        clickhouse_pid=$(cat "$ERRWATCH_CLICKHOUSE_HOME/clickhouse-server.pid" 2>/dev/null || true)
        printf '%s\t%d\t%s\t%s\t%s\t%s\n' "$(date -u +%H:%M:%S)" $((SECONDS - started)) "$pid" \
            "$(rss_kib "$pid")" "$(rss_kib "$kafka_pid")" "$(rss_kib "$clickhouse_pid")"
        sleep 10
    done
}

section "soak: ${duration}s of traffic, kills every ${kill_every}s, ClickHouse restarts every ${clickhouse_every}s"
started=$SECONDS
start_errwatch
sample_rss >"$run_dir/rss.tsv" {kafka_stdin}>&- &
sampler_pid=$!

start_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$errwatch" generate --scenario tour --brokers "$brokers" --topic "$topic" --rate "$rate" \
    --duration "${duration}s" --seed "$seed" --start "$start_time" </dev/null >/dev/null 2>"$run_dir/generate.log" \
    {kafka_stdin}>&- &
generator_pid=$!
say "generator started (pid $generator_pid): tour, $rate records/s for ${duration}s, seed $seed, start $start_time"

next_kill=$((SECONDS + $(random_between "$kill_every")))
next_clickhouse_restart=$((SECONDS + $(random_between "$clickhouse_every")))
while alive "$generator_pid"; do
    sleep 1
    # Forget a finished restart at once: its pid may be reused.
    if [[ -n $clickhouse_restart_pid ]] && ! alive "$clickhouse_restart_pid"; then
        wait "$clickhouse_restart_pid" 2>/dev/null || true
        clickhouse_restart_pid=
    fi
    if ! alive "$errwatch_pid"; then
        errwatch_exited
    fi
    if ((SECONDS >= next_kill)); then
        kill_errwatch
        start_errwatch
        next_kill=$((SECONDS + $(random_between "$kill_every")))
    fi
    # No restart in the last minute of traffic: the catch-up below starts with ClickHouse up.
    if ((SECONDS >= next_clickhouse_restart && SECONDS - started < duration - 60)) &&
        ! alive "$clickhouse_restart_pid"; then
        clickhouse_restarts=$((clickhouse_restarts + 1))
        restart_clickhouse "$clickhouse_restarts" {kafka_stdin}>&- &
        clickhouse_restart_pid=$!
        next_clickhouse_restart=$((SECONDS + $(random_between "$clickhouse_every")))
    fi
done
if [[ -n $clickhouse_restart_pid ]]; then
    wait "$clickhouse_restart_pid" 2>/dev/null || true
fi
clickhouse_restart_pid=
generator_status=0
wait "$generator_pid" 2>/dev/null || generator_status=$?
generator_pid=
summary_line=$(grep ' generated records=' "$run_dir/generate.log" | tail -n 1 || true)
if ((generator_status != 0)) || [[ -z $summary_line ]]; then
    tail -n 20 "$run_dir/generate.log" >&2
    say "the generator failed (status $generator_status)"
    exit 1
fi
produced_records=$(sed -n 's/.* generated records=\([0-9]*\) errors=\([0-9]*\) .*/\1/p' <<<"$summary_line")
produced_errors=$(sed -n 's/.* generated records=\([0-9]*\) errors=\([0-9]*\) .*/\2/p' <<<"$summary_line")
say "generator done: $produced_records records, $produced_errors errors"

# ---------------------------------------------------------------------------------------------
# Catch-up: the stored count equals the produced errors, the lag is 0 and nothing moves for 30 s.

section "catch-up"
# A restart that failed to bring the server back would leave errwatch waiting; start it again.
./scripts/clickhouse.sh >/dev/null 2>>"$events" {kafka_stdin}>&-
alive "$errwatch_pid" || errwatch_exited
metrics_url() { # the current errwatch's /metrics, from the address it logged
    local address
    address=$(sed -n 's/.*http listening address=\([0-9.:]*\).*/\1/p' "$errwatch_log" | tail -n 1)
    [[ -n $address ]] && echo "http://$address/metrics"
}
catch_up_started=$SECONDS
last_count=-1
stable_since=$SECONDS
caught_up=
while ((SECONDS - catch_up_started < catch_up_timeout)); do
    alive "$errwatch_pid" || errwatch_exited
    count=$(query "SELECT count() FROM $database.api_errors" 2>/dev/null || echo unknown)
    lag=unknown
    if url_metrics=$(metrics_url); then
        lag=$(curl -fsS --max-time 5 "$url_metrics" 2>/dev/null |
            awk '/^errwatch_consumer_lag_messages[{ ]/ { sum += $NF; seen = 1 } END { if (seen) print sum; else print "unknown" }' ||
            echo unknown)
    fi
    if [[ $count != "$last_count" ]]; then
        last_count=$count
        stable_since=$SECONDS
    fi
    echo "  stored $count of $produced_errors errors, consumer lag $lag, unchanged for $((SECONDS - stable_since))s" >&2
    if [[ $count =~ ^[0-9]+$ && $lag == 0 ]] && ((count >= produced_errors && SECONDS - stable_since >= 30)); then
        caught_up=yes
        break
    fi
    sleep 5
done
catch_up_seconds=$((SECONDS - catch_up_started))
if [[ -n $caught_up ]]; then
    say "caught up after ${catch_up_seconds}s"
else
    say "not caught up after ${catch_up_timeout}s (stored $last_count of $produced_errors)"
fi

# The one clean shutdown of the run: SIGTERM must store, commit and exit 0.
kill -TERM "$errwatch_pid"
shutdown_status=0
wait "$errwatch_pid" 2>/dev/null || shutdown_status=$?
say "errwatch #$errwatch_starts stopped by SIGTERM with status $shutdown_status"
errwatch_pid=
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=

# ---------------------------------------------------------------------------------------------
# Checks

section "checks"
# The same stream again, from the same seed, start and rate, through the classifier: what the
# database must hold.
"$errwatch" generate --scenario tour --rate "$rate" --count "$produced_records" --seed "$seed" \
    --start "$start_time" --no-pacing 2>/dev/null | "$errwatch" classify >"$run_dir/classified.jsonl"
classified_records=$(wc -l <"$run_dir/classified.jsonl")
classified_errors=$(grep -c '^{"envelope":true' "$run_dir/classified.jsonl" || true)
classified_unreadable=$(grep -c ',"error":"' "$run_dir/classified.jsonl" || true)
rm -f "$run_dir/classified.jsonl"

stored_errors=$(query "SELECT count() FROM $database.api_errors")
duplicate_positions=$(query "SELECT count() FROM (SELECT source, source_partition, source_offset, count() AS c
    FROM $database.api_errors GROUP BY source, source_partition, source_offset HAVING c > 1)")
distinct_positions=$(query "SELECT uniqExact(source, source_partition, source_offset) FROM $database.api_errors")
with_correlation_id=$(query "SELECT countIf(correlation_id != '') FROM $database.api_errors")
by_correlation=$(query "SELECT count() FROM $database.api_errors_by_correlation")
duplicate_lookups=$(query "SELECT count() FROM (SELECT source, source_partition, source_offset, count() AS c
    FROM $database.api_errors_by_correlation GROUP BY source, source_partition, source_offset HAVING c > 1)")
per_minute=$(query "SELECT sum(events) FROM $database.api_errors_per_minute")
quarantined=$(query "SELECT count() FROM $database.quarantine")
duplicate_quarantine=$(query "SELECT count() FROM (SELECT source, source_partition, source_offset, count() AS c
    FROM $database.quarantine GROUP BY source, source_partition, source_offset HAVING c > 1)")
per_partition=$(query "SELECT source_partition, count() FROM $database.api_errors
    GROUP BY source_partition ORDER BY source_partition" | awk '{ printf "%s%s: %s", sep, $1, $2; sep = ", " }')

# librdkafka resets a consumer whose offset the cluster no longer holds: records lost to the
# mock's retention, not to errwatch; it would explain a shortfall.
offset_resets=$(cat "$run_dir"/errwatch-*.log | grep -ci 'out of range\|offset reset\|AUTO_OFFSET_RESET' || true)
warnings=$(cat "$run_dir"/errwatch-*.log | grep -c ' WARN ' || true)
errors_logged=$(cat "$run_dir"/errwatch-*.log | grep -c ' ERROR ' || true)

# Each errwatch process logs, per partition, what ClickHouse held when the partition was
# assigned (errors_up_to, the highest offset stored) and librdkafka the offset it then read
# from (the committed one). A start offset at or below the stored one means records already
# stored were read again: the case the watermarks exist for. Counted here so that the summary
# shows the exactly-once path was taken, and how often, not only that nothing was doubled.
rereads=0
reread_rows=0
for log in "$run_dir"/errwatch-*.log; do
    while read -r partition start stored; do
        rereads=$((rereads + 1))
        reread_rows=$((reread_rows + $(query "SELECT count() FROM $database.api_errors
            WHERE source_partition = $partition AND source_offset >= $start AND source_offset <= $stored")))
    done < <(awk '
        / stored so far / && match($0, /partition=[0-9]+ errors_up_to=Some\([0-9]+\)/) {
            split(substr($0, RSTART, RLENGTH), f, /[=()]/)
            p = f[2] + 0
            if (!(p in stored)) stored[p] = f[4] + 0
        }
        /start fetching at offset [0-9]/ && match($0, /\[[0-9]+\] start fetching at offset [0-9]+/) {
            n = split(substr($0, RSTART, RLENGTH), f, /[][ ]/)
            p = f[2] + 0
            if (!(p in start)) start[p] = f[n] + 0
        }
        END { for (p in start) if ((p in stored) && start[p] <= stored[p]) print p, start[p], stored[p] }
    ' "$log")
done

check() { # DESCRIPTION ACTUAL EXPECTED; the failures are counted from summary.txt below
    if [[ $2 == "$3" ]]; then
        printf '  ok    %s: %s\n' "$1" "$2"
    else
        printf '  FAIL  %s: %s, expected %s\n' "$1" "$2" "$3"
    fi
}

{
    echo
    echo "traffic: $produced_records records, $produced_errors errors in ${duration}s at $rate records/s"
    echo "faults: $kills SIGKILLs ($kills_while_clickhouse_down of them during a ClickHouse restart)," \
        "$clickhouse_restarts ClickHouse restarts; errwatch started $errwatch_starts times," \
        "$exits_at_start exits at start (ClickHouse down), $exits_while_running exits while consuming"
    echo "catch-up after the traffic: ${catch_up_seconds}s"
    echo "re-reads: $rereads times a restarted errwatch read a partition from an offset ClickHouse already" \
        "held rows past; $reread_rows error rows read again and not stored twice"
    echo "errwatch log: $warnings WARN lines, $errors_logged ERROR lines, $offset_resets offset resets"
    echo "errors stored per partition: $per_partition"
    echo
    check "the generator's errors, classified again" "$classified_errors" "$produced_errors"
    check "records classified again" "$classified_records" "$produced_records"
    check "api_errors rows" "$stored_errors" "$produced_errors"
    check "distinct source positions in api_errors" "$distinct_positions" "$produced_errors"
    check "positions stored more than once" "$duplicate_positions" 0
    # The lookup table leaves out events without a correlation id.
    check "api_errors_by_correlation rows (= api_errors rows with a correlation id)" "$by_correlation" \
        "$with_correlation_id"
    check "positions stored more than once in api_errors_by_correlation" "$duplicate_lookups" 0
    check "sum(events) of api_errors_per_minute" "$per_minute" "$stored_errors"
    check "quarantine rows" "$quarantined" "$classified_unreadable"
    check "quarantined positions stored more than once" "$duplicate_quarantine" 0
    check "status of the final SIGTERM" "$shutdown_status" 0
    check "exits while consuming" "$exits_while_running" 0
} | tee -a "$run_dir/summary.txt"
failures=$(grep -c '^  FAIL' "$run_dir/summary.txt" || true)

# ---------------------------------------------------------------------------------------------
# Memory: errwatch's RSS per 5-minute window, over every errwatch process of the window.

median() { # numbers on stdin -> the median (the lower middle one for an even count)
    sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
{
    echo
    echo "errwatch RSS (MiB) per 5-minute window, sampled every 10 s across restarts:"
    echo
    echo "| window | samples | processes | min | median | max | Kafka process max | ClickHouse max |"
    echo "|---|---|---|---|---|---|---|---|"
    last_window=$(awk -F'\t' 'NR > 1 { w = int($2 / 300) } END { print w + 0 }' "$run_dir/rss.tsv")
    for ((w = 0; w <= last_window; w++)); do
        window=$(awk -F'\t' -v w="$w" 'NR > 1 && int($2 / 300) == w && $4 != ""' "$run_dir/rss.tsv")
        [[ -n $window ]] || continue
        stats=$(cut -f4 <<<"$window" | sort -n | awk '{ v[NR] = $1 } END { print v[1], v[NR] }')
        med=$(cut -f4 <<<"$window" | median)
        awk -F'\t' -v w="$w" -v min="${stats% *}" -v max="${stats#* }" -v med="$med" '
            { n++; pids[$3] = 1; if ($5 > kafka) kafka = $5; if ($6 > ch) ch = $6 }
            END {
                for (p in pids) procs++
                printf "| %d-%d min | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n",
                    w * 5, w * 5 + 5, n, procs, min / 1024, med / 1024, max / 1024, kafka / 1024, ch / 1024
            }' <<<"$window"
    done
} | tee -a "$run_dir/summary.txt"

echo
if ((failures > 0)); then
    say "soak FAILED: $failures check(s) failed"
    exit 1
fi
say "soak passed"
