#!/usr/bin/env bash
# A private ClickHouse server for development and tests.
#
#   scripts/clickhouse.sh [start]   install ClickHouse if needed, start the server, print its URL
#   scripts/clickhouse.sh stop      stop the server started by this script
#   scripts/clickhouse.sh status    print the URL and exit 0 if the server answers, else exit non-zero
#
# The server keeps everything (config, data, logs, pid file) in its own directory and listens
# on 127.0.0.1 only, on ports of its own, so it never touches /var/lib/clickhouse or a system
# server on the default ports. `start` is idempotent: a server that is already up is left alone.
#
# Only the URL goes to stdout, as the last line, so callers can do `url=$(scripts/clickhouse.sh)`;
# every other message goes to stderr.
#
# Settings (environment):
#   ERRWATCH_CLICKHOUSE_HOME       private directory      (default: <project>/target/clickhouse)
#   ERRWATCH_CLICKHOUSE_HTTP_PORT  HTTP port              (default: 18123)
#   ERRWATCH_CLICKHOUSE_TCP_PORT   native protocol port   (default: 19000)
set -euo pipefail

project_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ch_home=${ERRWATCH_CLICKHOUSE_HOME:-$project_root/target/clickhouse}
[[ $ch_home == /* ]] || ch_home=$PWD/$ch_home
http_port=${ERRWATCH_CLICKHOUSE_HTTP_PORT:-18123}
tcp_port=${ERRWATCH_CLICKHOUSE_TCP_PORT:-19000}
host=127.0.0.1
url="http://$host:$http_port"

config_file=$ch_home/config.xml
users_file=$ch_home/users.xml
pid_file=$ch_home/clickhouse-server.pid
log_dir=$ch_home/log
server_log=$log_dir/clickhouse-server.log
error_log=$log_dir/clickhouse-server.err.log
console_log=$log_dir/console.log

start_timeout=60 # seconds for the server to answer after it is launched
stop_timeout=30  # seconds for the server to exit after SIGTERM, before SIGKILL
apt_timeout=900  # seconds to wait for another package install to finish

say() { printf '%s\n' "clickhouse.sh: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

usage() {
    cat >&2 <<EOF
usage: $0 [start|stop|status]
  start   (default) install ClickHouse if needed, start the private server, print its URL
  stop    stop the private server
  status  print the URL and exit 0 if the private server answers; exit 3 if it is stopped
EOF
}

for name in http_port tcp_port; do
    if ! [[ ${!name} =~ ^[0-9]{1,5}$ ]] || ((10#${!name} == 0 || 10#${!name} > 65535)); then
        die "invalid ${name//_/ } '${!name}' (ERRWATCH_CLICKHOUSE_${name^^})"
    fi
done
[[ $http_port != "$tcp_port" ]] || die "the HTTP and TCP ports must differ (both are $http_port)"

now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
}

# ---------------------------------------------------------------------------------------------
# Packages

package_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# True while apt or dpkg holds one of its lock files. The locks are fcntl locks, which
# /proc/locks lists as MAJOR:MINOR:INODE of the locked file.
package_manager_busy() {
    local f dev id
    for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock \
        /var/cache/apt/archives/lock; do
        [[ -e $f ]] || continue
        dev=$(stat -c %d "$f") || continue
        printf -v id '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) \
            "$(stat -c %i "$f")"
        grep -q " $id " /proc/locks 2>/dev/null && return 0
    done
    return 1
}

wait_for_package_manager() {
    package_manager_busy || return 0
    say "another apt/dpkg run is in progress; waiting up to ${apt_timeout}s for it to finish"
    local deadline=$((SECONDS + apt_timeout))
    while package_manager_busy; do
        if ((SECONDS >= deadline)); then
            say "apt/dpkg is still busy after ${apt_timeout}s; trying anyway"
            return 0
        fi
        sleep 2
    done
}

# Installs the given packages with apt-get, after one `apt-get update`.
apt_install() {
    ((EUID == 0)) || die "need root to install $* (run: sudo apt-get install -y $*)"
    command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
    local apt=(apt-get -o DPkg::Lock::Timeout="$apt_timeout" -o Dpkg::Use-Pty=0)
    say "installing $* with apt-get"
    if ! "${apt[@]}" update >&2; then
        die "'apt-get update' failed; cannot install $*"
    fi
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "$@" >&2; then
        die "'apt-get install -y $*' failed (see the apt output above)"
    fi
}

ensure_packages() {
    local missing=()
    wait_for_package_manager
    command -v curl >/dev/null || missing+=(curl)
    package_installed clickhouse-server || missing+=(clickhouse-server clickhouse-client)
    ((${#missing[@]} == 0)) || apt_install "${missing[@]}"

    command -v curl >/dev/null || die "curl is still missing after installing it"
    clickhouse_bin=$(PATH=$PATH:/usr/sbin:/usr/local/sbin command -v clickhouse-server) ||
        die "clickhouse-server is still missing after installing it"
}

# ---------------------------------------------------------------------------------------------
# Server process

# Pid from the pid file, or nothing.
read_pid() {
    local pid=
    if [[ -r $pid_file ]]; then
        read -r pid <"$pid_file" || true
    fi
    if [[ $pid =~ ^[0-9]+$ ]]; then
        echo "$pid"
    fi
}

# True if the process exists and is not a zombie.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# True if the pid is a live clickhouse-server running our config file.
is_our_server() {
    local cmdline
    alive "$1" || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
    [[ $cmdline == *clickhouse-server*"--config-file=$config_file"* ]]
}

# Pid of our running server, or nothing. Removes a pid file that names no such server.
server_pid() {
    local pid
    pid=$(read_pid)
    [[ -n $pid ]] || return 0
    if is_our_server "$pid"; then
        echo "$pid"
    else
        rm -f "$pid_file"
    fi
}

answers() {
    [[ $(curl -fsS --max-time 2 "$url/?query=SELECT%201" 2>/dev/null) == 1 ]]
}

port_in_use() {
    (: <>"/dev/tcp/$host/$1") 2>/dev/null
}

describe_listener() {
    command -v ss >/dev/null || return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /' >&2 || true
}

show_logs() {
    local f
    for f in "$error_log" "$console_log"; do
        [[ -s $f ]] || continue
        say "last 30 lines of $f:"
        tail -n 30 "$f" | sed 's/^/    /' >&2
    done
}

# Waits until the server answers or the deadline passes.
wait_until_ready() {
    local pid=$1 deadline=$((SECONDS + start_timeout))
    until answers; do
        if ! alive "$pid"; then
            rm -f "$pid_file"
            show_logs
            die "clickhouse-server (pid $pid) exited during startup"
        fi
        if ((SECONDS >= deadline)); then
            show_logs
            die "clickhouse-server (pid $pid) did not answer on $url within ${start_timeout}s" \
                "(it is still running; '$0 stop' stops it)"
        fi
        sleep 0.2
    done
}

xml_escape() {
    local s=$1
    s=${s//'&'/'&amp;'}
    s=${s//'<'/'&lt;'}
    s=${s//'>'/'&gt;'}
    printf '%s' "$s"
}

write_config() {
    local home
    home=$(xml_escape "$ch_home")
    mkdir -p "$ch_home/data" "$ch_home/tmp" "$ch_home/user_files" "$ch_home/format_schemas" "$log_dir"

    cat >"$config_file.new" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/clickhouse.sh; rewritten on every start. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$(xml_escape "$server_log")</log>
        <errorlog>$(xml_escape "$error_log")</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>

    <listen_host>$host</listen_host>
    <http_port>$http_port</http_port>
    <tcp_port>$tcp_port</tcp_port>

    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>

    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>

    <path>$home/data/</path>
    <tmp_path>$home/tmp/</tmp_path>
    <user_files_path>$home/user_files/</user_files_path>
    <format_schema_path>$home/format_schemas/</format_schema_path>

    <users_config>$(xml_escape "$users_file")</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>

    <timezone>UTC</timezone>
    <umask>022</umask>
    <mlock_executable>false</mlock_executable>

    <!-- For the pipeline benchmark's peer, ClickHouse's own Kafka engine: read a backlog from
         its start, with a large prefetch. Unused unless a Kafka table exists. -->
    <kafka>
        <auto_offset_reset>smallest</auto_offset_reset>
        <queued_min_messages>3000000</queued_min_messages>
        <queued_max_messages_kbytes>1048576</queued_max_messages_kbytes>
    </kafka>
</yandex>
EOF

    cat >"$users_file.new" <<'EOF'
<?xml version="1.0"?>
<!-- Generated by scripts/clickhouse.sh; rewritten on every start. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>

    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>

    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
    mv -f "$config_file.new" "$config_file"
    mv -f "$users_file.new" "$users_file"
}

server_version() {
    curl -fsS --max-time 2 "$url/?query=SELECT%20version()" 2>/dev/null || echo unknown
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_start() {
    ensure_packages

    local pid
    pid=$(server_pid)
    if [[ -n $pid ]]; then
        local running_port
        running_port=$(sed -n 's:.*<http_port>\([0-9]*\)</http_port>.*:\1:p' "$config_file" 2>/dev/null || true)
        if [[ -n $running_port && $running_port != "$http_port" ]]; then
            die "clickhouse-server (pid $pid) is already running from $ch_home on HTTP port" \
                "$running_port, not $http_port; run '$0 stop' first to change ports"
        fi
        if ! answers; then
            say "clickhouse-server (pid $pid) is running but not answering yet; waiting"
            wait_until_ready "$pid"
        fi
        say "clickhouse-server $(server_version) already running at $url (pid $pid)"
        echo "$url"
        return 0
    fi

    local port
    for port in "$http_port" "$tcp_port"; do
        if port_in_use "$port"; then
            say "error: port $port on $host is already in use by another process:"
            describe_listener "$port"
            die "stop that process, or choose other ports with ERRWATCH_CLICKHOUSE_HTTP_PORT /" \
                "ERRWATCH_CLICKHOUSE_TCP_PORT"
        fi
    done

    write_config
    local started_ms
    started_ms=$(now_ms)
    # setsid detaches the server from the caller's terminal and process group, so a Ctrl-C or a
    # hangup of the caller does not reach it. This runs in a non-interactive shell without job
    # control, so setsid does not fork and $! is the server's own pid.
    (cd "$ch_home" && exec nohup setsid "$clickhouse_bin" --config-file="$config_file" \
        >"$console_log" 2>&1 </dev/null) &
    pid=$!
    echo "$pid" >"$pid_file"
    say "started clickhouse-server (pid $pid) in $ch_home; waiting for $url"

    wait_until_ready "$pid"
    local elapsed=$(($(now_ms) - started_ms))
    say "clickhouse-server $(server_version) ready at $url (pid $pid," \
        "up in $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000)))s)"
    echo "$url"
}

cmd_stop() {
    local pid
    pid=$(server_pid)
    if [[ -z $pid ]]; then
        say "clickhouse-server is not running (no live server for $pid_file)"
        return 0
    fi

    say "stopping clickhouse-server (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + stop_timeout))
    while alive "$pid"; do
        if ((SECONDS >= deadline)); then
            say "clickhouse-server (pid $pid) still running after ${stop_timeout}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            local kill_deadline=$((SECONDS + 10))
            while alive "$pid"; do
                ((SECONDS < kill_deadline)) || die "clickhouse-server (pid $pid) survived SIGKILL"
                sleep 0.2
            done
            break
        fi
        sleep 0.2
    done
    rm -f "$pid_file"
    say "clickhouse-server stopped"
}

cmd_status() {
    local pid
    pid=$(server_pid)
    if [[ -z $pid ]]; then
        say "stopped"
        return 3
    fi
    if answers; then
        say "running: clickhouse-server $(server_version), pid $pid, $ch_home"
        echo "$url"
        return 0
    fi
    say "clickhouse-server (pid $pid) is running but does not answer on $url"
    return 1
}

case ${1:-start} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
-h | --help | help) usage ;;
*)
    usage
    exit 2
    ;;
esac
