# tests/cli/killsched.sh - sourced by the SIGKILL resume tests: kill_schedule KIND... picks from
# the array `points` (the kill points a run passed, "KIND N" each, in order) one point of each
# KIND and two more at random (from $RANDOM, so a seed replays it) and leaves them, in the
# order a run passes them, in the array `schedule`.
kill_schedule() {
    local pick=() idx i kind
    for kind in "$@"; do
        idx=()
        for i in "${!points[@]}"; do [[ ${points[$i]} == "$kind "* ]] && idx+=("$i"); done
        pick+=("${idx[RANDOM % ${#idx[@]}]}")
    done
    pick+=($((RANDOM % ${#points[@]})) $((RANDOM % ${#points[@]})))
    schedule=()
    for i in $(printf '%s\n' "${pick[@]}" | sort -n -u); do schedule+=("${points[$i]}"); done
}
