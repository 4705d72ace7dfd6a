#!/usr/bin/env bash
# Checks the Prometheus files of dashboards/prometheus with promtool: the configuration (and
# the rule files it names), the rules, and the alert cases of alerts.test.yml. Installs
# Debian's `prometheus` package, which carries promtool, when promtool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=dashboards/prometheus
apt_timeout=900 # seconds to wait for another package install to finish

say() { printf '%s\n' "check-prometheus.sh: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

install_promtool() {
    command -v apt-get >/dev/null || die "promtool is missing and there is no apt-get; install promtool by hand"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "promtool is missing; run as root or install it: apt-get install prometheus"
        sudo=(sudo)
    fi
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get
        -o DPkg::Lock::Timeout="$apt_timeout" -o Dpkg::Use-Pty=0)
    say "promtool not found; installing Debian's prometheus package"
    "${apt[@]}" update >&2 || die "'apt-get update' failed; cannot install promtool"
    "${apt[@]}" install -y --no-install-recommends prometheus >&2 ||
        die "'apt-get install -y prometheus' failed (see the apt output above)"

    # The package also installs a Prometheus server and starts it on port 9090 where services
    # may start. Only promtool is wanted, and the server was not there before, so stop it.
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        "${sudo[@]}" systemctl disable --now prometheus.service >&2 ||
            say "could not stop the prometheus service; stop it with: systemctl disable --now prometheus"
    elif [[ -x /etc/init.d/prometheus ]]; then
        "${sudo[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    fi
    command -v promtool >/dev/null || die "promtool is still missing after installing prometheus"
}

command -v promtool >/dev/null || install_promtool
say "$(promtool --version 2>&1 | head -n 1)"

failed=0
run() {
    printf '+ %s\n' "$*" >&2
    if ! "$@"; then
        say "FAILED: $*"
        failed=1
    fi
}

run promtool check config "$dir/prometheus.yml"
run promtool check rules "$dir/alerts.yml"
run promtool test rules "$dir/alerts.test.yml"

((failed == 0)) || die "the Prometheus configuration or rules are broken (see above)"
say "configuration, rules and alert cases are fine"
