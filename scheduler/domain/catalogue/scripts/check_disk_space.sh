# Kairos-CheckDiskSpace: exits 1 when the filesystem holding a path is used at or above
# a threshold. Values arrive shell-quoted: each assignment below is one word.
path={{path}}
threshold={{threshold}}
dry_run={{dryRun}}

if [ ! -e "$path" ]; then
    echo "Kairos-CheckDiskSpace: $path does not exist" >&2
    exit 2
fi
# df -P prints one unwrapped line per filesystem: size, used, available, "Use%", mount.
usage=$(df -P -- "$path" | awk 'NR == 2 { sub("%", "", $5); print $5, $6 }') || usage=""
used=${usage%% *}
mount=${usage#* }
case $used in
    '' | *[!0-9]*)
        echo "Kairos-CheckDiskSpace: df could not tell the use of the filesystem holding $path" >&2
        exit 2
        ;;
esac
echo "filesystem mounted on $mount (holding $path): ${used}% used, threshold ${threshold}%"
if [ "$used" -ge "$threshold" ]; then
    verdict="FAIL: ${used}% used is at or above the threshold of ${threshold}%"
    code=1
else
    verdict="OK: ${used}% used is below the threshold of ${threshold}%"
    code=0
fi
echo "$verdict"
if [ "$dry_run" = true ]; then
    echo "dry run: would exit $code; exiting 0"
    exit 0
fi
exit "$code"
