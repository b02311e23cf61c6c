#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS: the inputs that once failed (fuzz/regressions/TARGET), then SECONDS of fuzzing
# from the seed corpus (fuzz/corpus/TARGET), with a fixed seed. Any crash, hang (10 s for one input) or
# exception other than the refusals a target expects fails it, and its input is saved in $FUZZ_OUT.
set -euo pipefail
target=$1 seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-$(mktemp -d)}
mkdir -p "$out/corpus-$target"
cp "$here/corpus/$target"/* "$out/corpus-$target/"  # libFuzzer adds what it finds to its first corpus folder
options=(-seed=1 -timeout=10 -rss_limit_mb=2048 -max_len=4096 -artifact_prefix="$out/$target-")
if compgen -G "$here/regressions/$target/*" >/dev/null; then
  python "$here/fuzz_$target.py" "${options[@]}" "$here/regressions/$target"/*
fi
python "$here/fuzz_$target.py" "${options[@]}" -max_total_time="$seconds" -print_final_stats=1 "$out/corpus-$target"
