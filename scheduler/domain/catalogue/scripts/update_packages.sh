# Kairos-UpdatePackages: upgrades the installed packages with apt, dnf or yum, whichever
# the machine has; optionally security updates only. With rebootIfNeeded, a machine that
# needs a reboot afterwards ends the script with exit code 194: the agent then reboots it
# through its power hook. A dry run simulates the upgrade and changes nothing. Values
# arrive shell-quoted.
security_only={{securityOnly}}
reboot_if_needed={{rebootIfNeeded}}
dry_run={{dryRun}}

if command -v apt-get > /dev/null 2>&1; then
    manager=apt
elif command -v dnf > /dev/null 2>&1; then
    manager=dnf
elif command -v yum > /dev/null 2>&1; then
    manager=yum
else
    echo "Kairos-UpdatePackages: no supported package manager (apt-get, dnf or yum) found" >&2
    exit 2
fi
scope="all packages"
[ "$security_only" = true ] && scope="security updates only"
echo "package manager: $manager; $scope"

if [ "$dry_run" != true ] && [ "$(id -u)" != 0 ]; then
    echo "Kairos-UpdatePackages: upgrading packages needs root; run the invocation as root" >&2
    exit 2
fi

apt_security_packages() {
    # The upgradable packages whose candidate comes from a security archive, on one line.
    apt-get -s -q upgrade | awk '/^Inst / && /[Ss]ecurity/ { printf "%s%s", sep, $2; sep = " " }
        END { if (sep) print "" }'
}

case $manager in
    apt)
        export DEBIAN_FRONTEND=noninteractive
        if [ "$dry_run" = true ]; then
            echo "dry run: simulating with the package lists as they are (not refreshed)"
            if [ "$security_only" = true ]; then
                packages=$(apt_security_packages)
                echo "would upgrade: ${packages:-nothing}"
            else
                apt-get -s -q upgrade || exit 1
            fi
        else
            apt-get -q update || exit 1
            if [ "$security_only" = true ]; then
                packages=$(apt_security_packages)
                if [ -n "$packages" ]; then
                    # shellcheck disable=SC2086
                    apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                        install --only-upgrade $packages || exit 1
                else
                    echo "no security updates"
                fi
            else
                apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                    upgrade || exit 1
            fi
        fi
        reboot_needed=false
        [ -f /var/run/reboot-required ] && reboot_needed=true
        ;;
    dnf | yum)
        security=""
        [ "$security_only" = true ] && security="--security"
        if [ "$dry_run" = true ]; then
            # shellcheck disable=SC2086
            "$manager" -q check-update $security
            # check-update exits 100 when updates are available, 0 when there are none.
            case $? in
                0) echo "no updates" ;;
                100) echo "would upgrade the packages listed above" ;;
                *) exit 1 ;;
            esac
        else
            # shellcheck disable=SC2086
            "$manager" -y -q upgrade $security || exit 1
        fi
        reboot_needed=false
        if command -v needs-restarting > /dev/null 2>&1; then
            needs-restarting -r > /dev/null 2>&1 || reboot_needed=true
        fi
        ;;
esac

echo "reboot needed: $reboot_needed"
if [ "$reboot_needed" = true ] && [ "$reboot_if_needed" = true ]; then
    if [ "$dry_run" = true ]; then
        echo "dry run: would exit 194 so that the agent reboots this machine"
        exit 0
    fi
    echo "exiting 194: the agent reboots this machine once this result is stored"
    exit 194
fi
exit 0
