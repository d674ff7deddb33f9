#!/bin/sh
# retry COUNT COMMAND...: run COMMAND until it succeeds, at most COUNT times
retry() {
    attempts="$1"
    shift
    n=1
    until "$@"; do
        if [ "$n" -ge "$attempts" ]; then
            echo "failed after $n attempts: $*" >&2
            return 1
        fi
        sleep $((n * 2))
        n=$((n + 1))
    done
}

retry 5 curl -fsS https://example.com/health
retry 3 git pull --ff-only ||
