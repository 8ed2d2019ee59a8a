# Kairos-RestartService: restarts a service through systemd when it runs the machine,
# else through service(8) or its /etc/init.d script. Values arrive shell-quoted.
name={{serviceName}}
dry_run={{dryRun}}

if command -v systemctl > /dev/null 2>&1 && [ -d /run/systemd/system ]; then
    # LoadState is "not-found" for a unit systemd does not know.
    state=$(systemctl show --property=LoadState --value -- "$name" 2> /dev/null)
    if [ "$state" != loaded ]; then
        echo "Kairos-RestartService: systemd has no service $name (LoadState: ${state:-unknown})" >&2
        exit 2
    fi
    if [ "$dry_run" = true ]; then
        echo "dry run: would run systemctl restart $name; it is now $(systemctl is-active -- "$name")"
        exit 0
    fi
    systemctl restart -- "$name" || exit 1
    echo "restarted $name with systemctl; it is now $(systemctl is-active -- "$name")"
    exit 0
fi
if [ ! -x "/etc/init.d/$name" ]; then
    echo "Kairos-RestartService: no service $name (systemd does not run this machine and /etc/init.d/$name does not exist)" >&2
    exit 2
fi
if [ "$dry_run" = true ]; then
    echo "dry run: would restart $name through /etc/init.d/$name"
    exit 0
fi
if command -v service > /dev/null 2>&1; then
    service "$name" restart || exit 1
else
    "/etc/init.d/$name" restart || exit 1
fi
echo "restarted $name through /etc/init.d/$name"
