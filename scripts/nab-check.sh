#!/usr/bin/env bash
# How a change to the univariate detector does on NAB, measured the two ways docs/DETECTOR.md uses
# to judge one (a single run on the 41 development files says little: a setting that should not
# matter moves it by up to 3.5 points).
#
#   scripts/nab-check.sh [--settings FILE] [KEY=VALUE ...]
#
# KEY=VALUE pairs override the "detector" section of the settings (config/nab-homeostat.json by
# default), e.g. `scripts/nab-check.sh escalate=4` or `signals=95`. It prints, as standard /
# reward_low_FP_rate / reward_low_FN_rate:
#   all         levels tuned on all files (optimistic: they have seen the labels);
#   odd->even   levels tuned on the odd-numbered files (sorted by path), scored on the even ones;
#   even->odd   the other way round;
#   refresh R   levels tuned on all files with refresh_every = R, for R = 7..13, and their mean.
# Compare the rows with those of a run without overrides. About 2 minutes on 2 cores with a
# release build (cargo build --release -p homeostat-cli, built here when missing).
#
# NAB_DATA (default ../shared/datasets/nab) is the corpus; HOMEOSTAT_BIN the binary to run.
set -euo pipefail
cd "$(dirname "$0")/.."

settings=config/nab-homeostat.json
if [[ "${1:-}" == "--settings" ]]; then
    settings="$2"
    shift 2
fi
for kv in "$@"; do
    [[ "$kv" == *=* ]] || { echo "nab-check: expected KEY=VALUE, got '$kv' (see the top of $0)" >&2; exit 2; }
done
data="${NAB_DATA:-../shared/datasets/nab}"
[[ -d "$data/data" ]] || { echo "nab-check: no NAB corpus at $data (set NAB_DATA)" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/homeostat-target}"
bin="${HOMEOSTAT_BIN:-$CARGO_TARGET_DIR/release/homeostat}"
if [[ -z "${HOMEOSTAT_BIN:-}" ]]; then
    cargo build --release -q -p homeostat-cli
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# settings.json with overrides: variant FILE [KEY=VALUE ...]
variant() {
    python3 - "$settings" "$@" <<'EOF'
import json, sys
src, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
c = json.load(open(src))
for kv in pairs:
    k, v = kv.split("=", 1)
    if k not in c["detector"]:
        sys.exit(f"nab-check: {k} is not a detector setting (see {src})")
    c["detector"][k] = json.loads(v)
json.dump(c, open(out, "w"), indent=1)
EOF
}

# The split: the data files sorted by path, odd-numbered (1st, 3rd, …) and even-numbered ones,
# each half a NAB directory of its own (links to the corpus).
python3 - "$(cd "$data" && pwd)" "$work" <<'EOF'
import os, sys
root, work = sys.argv[1], sys.argv[2]
files = sorted(os.path.relpath(os.path.join(d, f), root + "/data")
               for d, _, fs in os.walk(root + "/data") for f in fs if f.endswith(".csv"))
for name, part in (("odd", files[0::2]), ("even", files[1::2])):
    base = os.path.join(work, name)
    os.makedirs(base + "/data")
    for other in os.listdir(root):
        if other != "data":
            os.symlink(os.path.join(root, other), os.path.join(base, other))
    for f in part:
        os.makedirs(os.path.dirname(os.path.join(base, "data", f)), exist_ok=True)
        os.symlink(os.path.join(root, "data", f), os.path.join(base, "data", f))
EOF

# One `homeostat eval nab` run: its table on stdout; its progress and messages are kept aside and
# shown only when it fails, which ends the check.
nab() {
    if ! "$bin" eval nab "$@" 2>"$work/err"; then
        echo "nab-check: homeostat eval nab $* failed:" >&2
        cat "$work/err" >&2
        exit 1
    fi
}
# Homeostat's row of a run's table, as standard / low FP / low FN.
score() {
    local out
    out="$(nab "$@")" || exit 1
    awk '$1 == "homeostat" && $2 ~ /^[0-9]/ { print $2 " / " $3 " / " $4; exit }' <<<"$out"
}

variant "$work/s.json" "$@"
all="$(score --data "$data" --settings "$work/s.json" --tune)"
echo "all        $all"
nab --data "$work/odd" --settings "$work/s.json" --tune --save-settings "$work/odd.json" >/dev/null
nab --data "$work/even" --settings "$work/s.json" --tune --save-settings "$work/even.json" >/dev/null
odd="$(score --data "$work/even" --settings "$work/odd.json")"
even="$(score --data "$work/odd" --settings "$work/even.json")"
echo "odd->even  $odd"
echo "even->odd  $even"
for r in 7 8 9 10 11 12 13; do
    variant "$work/r.json" "$@" "refresh_every=$r"
    at="$(score --data "$data" --settings "$work/r.json" --tune)"
    echo "refresh $r $at"
done | tee "$work/r.txt"
awk '{ s += $3; f += $5; n += $7; c++ } END { printf "mean       %.2f / %.2f / %.2f\n", s / c, f / c, n / c }' "$work/r.txt"
