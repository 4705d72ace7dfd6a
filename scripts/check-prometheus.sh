#!/usr/bin/env bash
# Checks the Prometheus files of dashboards/prometheus with promtool: the configuration (and
# the rule files it names), the rules, and the alert cases of alerts.test.yml. Installs
# Debian's `prometheus` package when promtool or the server is missing: it carries both, and
# the integration tests (tests/it/prometheus.rs) start the server.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=dashboards/prometheus
apt_timeout=900 # seconds to wait for another package install to finish

say() { printf '%s\n' "check-prometheus.sh: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

have_prometheus() {
    command -v promtool >/dev/null && command -v prometheus >/dev/null
}

install_prometheus() {
    command -v apt-get >/dev/null ||
        die "promtool or prometheus is missing and there is no apt-get; install Prometheus by hand"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null ||
            die "promtool or prometheus is missing; run as root or install it: apt-get install prometheus"
        sudo=(sudo)
    fi
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get
        -o DPkg::Lock::Timeout="$apt_timeout" -o Dpkg::Use-Pty=0)
    say "promtool or prometheus not found; installing Debian's prometheus package"
    "${apt[@]}" update >&2 || die "'apt-get update' failed; cannot install prometheus"
    "${apt[@]}" install -y --no-install-recommends prometheus >&2 ||
        die "'apt-get install -y prometheus' failed (see the apt output above)"

    # The package also starts its server as a service on port 9090 where services may start.
    # Only the binaries are wanted (the tests start servers of their own on free ports), and
    # that service was not there before, so stop it.
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        "${sudo[@]}" systemctl disable --now prometheus.service >&2 ||
            say "could not stop the prometheus service; stop it with: systemctl disable --now prometheus"
    elif [[ -x /etc/init.d/prometheus ]]; then
        "${sudo[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    fi
    have_prometheus || die "promtool or prometheus is still missing after installing the prometheus package"
}

have_prometheus || install_prometheus
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
