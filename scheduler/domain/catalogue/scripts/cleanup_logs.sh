# Kairos-CleanupLogs: deletes the regular files under a directory whose name matches a
# pattern and that were last modified at least a number of days ago. Symbolic links are
# not followed and other filesystems are not entered. Values arrive shell-quoted.
path={{path}}
age={{age}}
pattern={{pattern}}
dry_run={{dryRun}}

if [ ! -d "$path" ]; then
    echo "Kairos-CleanupLogs: $path is not a directory" >&2
    exit 2
fi
# -mtime +N is "more than N whole days ago": +(age - 1) keeps files of age days and more.
days=$((age - 1))
count=$(find "$path" -xdev -type f -name "$pattern" -mtime "+$days" | wc -l)
if [ "$dry_run" = true ]; then
    echo "dry run: would delete $count file(s) under $path matching $pattern, modified $age or more days ago:"
    find "$path" -xdev -type f -name "$pattern" -mtime "+$days" -print
    exit 0
fi
echo "deleting $count file(s) under $path matching $pattern, modified $age or more days ago:"
find "$path" -xdev -type f -name "$pattern" -mtime "+$days" -print -delete || {
    echo "Kairos-CleanupLogs: some files could not be deleted" >&2
    exit 1
}
echo "done"
