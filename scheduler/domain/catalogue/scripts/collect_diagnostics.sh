# Kairos-CollectDiagnostics: prints the machine's state in sections: OS, load, memory,
# disks, failed units and recent kernel errors. A tool the machine lacks (systemctl,
# journalctl, dmesg) is said so and skipped; the script itself succeeds. Values arrive
# shell-quoted.
lines={{kernelErrorLines}}
dry_run={{dryRun}}

if [ "$dry_run" = true ]; then
    echo "dry run: would print the OS, load, memory, disks, failed units and the last $lines kernel errors"
    exit 0
fi

section() {
    printf '\n== %s ==\n' "$1"
}

section "os"
if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    (. /etc/os-release && echo "${PRETTY_NAME:-$NAME}")
fi
uname -a

section "load"
if [ -r /proc/loadavg ]; then
    echo "load average (1, 5, 15 min): $(cut -d ' ' -f 1-3 /proc/loadavg)"
fi
uptime 2> /dev/null || true

section "memory"
if command -v free > /dev/null 2>&1; then
    free -m
elif [ -r /proc/meminfo ]; then
    grep -E '^(MemTotal|MemAvailable|SwapTotal|SwapFree):' /proc/meminfo
else
    echo "not available: neither free nor /proc/meminfo"
fi

section "disks"
df -hP 2> /dev/null || df -h

section "failed units"
if command -v systemctl > /dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl --failed --no-legend --no-pager || echo "systemctl could not list failed units"
else
    echo "not available: systemd does not run this machine"
fi

section "kernel errors (last $lines)"
if command -v journalctl > /dev/null 2>&1 \
    && errors=$(journalctl -k -p err -n "$lines" --no-pager -q 2> /dev/null); then
    echo "${errors:-none (journalctl)}"
elif command -v dmesg > /dev/null 2>&1 \
    && errors=$(dmesg --level=emerg,alert,crit,err 2> /dev/null); then
    errors=$(printf '%s\n' "$errors" | tail -n "$lines")
    echo "${errors:-none (dmesg)}"
else
    echo "not available: neither journalctl nor dmesg could read the kernel log here"
fi
exit 0
