# Sourced by the browser test runners: npm_ci_once LOCKDIR DIR MODULE WHAT installs
# LOCKDIR/package.json + package-lock.json into DIR with `npm ci` (pinned, cache under the build
# directory) unless DIR/node_modules/MODULE exists for the same lock file. Parallel runners take
# turns through a lock file in DIR. Returns 77 with the reason printed (the caller exits 77: a
# skip) when the lock cannot be had or npm ci fails (offline registry?).
npm_ci_once() {
    lockdir=$1 dir=$2 module=$3 what=$4
    mkdir -p "$dir"
    exec 9>"$dir/.install.lock"
    if ! flock -w 300 9; then
        echo "SKIP: waited 300 s for another npm ci in $dir"
        return 77
    fi
    if [ ! -d "$dir/node_modules/$module" ] || ! cmp -s "$lockdir/package-lock.json" "$dir/package-lock.json"; then
        cp "$lockdir/package.json" "$lockdir/package-lock.json" "$dir/"
        if ! (cd "$dir" && npm ci --no-audit --no-fund --cache "$BUILD/npm-cache" >npm-ci.log 2>&1); then
            tail -5 "$dir/npm-ci.log"
            rm -f "$dir/package-lock.json"
            echo "SKIP: npm ci of $what failed (offline registry?), see $dir/npm-ci.log"
            flock -u 9
            return 77
        fi
    fi
    flock -u 9
    exec 9>&-
    return 0
}
