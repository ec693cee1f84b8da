#!/usr/bin/env bash
# run_bad_inputs.sh: runs `qdrift` on every case of manifest.txt and checks the outcome.
#
#   bash tests/bad_inputs/run_bad_inputs.sh path/to/qdrift
#
# manifest.txt, one case a line: EXIT | STREAM | FRAGMENT | ARGS
#   EXIT      the expected exit code
#   STREAM    stderr: the whole of stderr is one line "qdrift: ..." holding FRAGMENT
#             stdout: stdout holds FRAGMENT (cases that run, e.g. NaN inputs with --stats)
#   ARGS      the qdrift arguments; @name is the file tests/bad_inputs/name, %name a hostile
#             dump directory make_bad_dumps.sh makes at test time
set -uo pipefail
qdrift=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$here/make_bad_dumps.sh" "$tmp/dumps"
failed=0
cases=0
while IFS='|' read -r want stream fragment args; do
  [[ -z ${want// /} || $want == \#* ]] && continue
  want=${want// /}
  stream=${stream// /}
  fragment=$(echo "$fragment" | sed 's/^ *//;s/ *$//')
  argv=()
  for a in $args; do
    if [[ $a == @* ]]; then argv+=("$here/${a#@}"); elif [[ $a == %* ]]; then argv+=("$tmp/dumps/${a#%}"); else argv+=("$a"); fi
  done
  ((cases++))
  timeout 60 "$qdrift" "${argv[@]}" > "$tmp/out" 2> "$tmp/err"
  got=$?
  problem=""
  if [[ $got != "$want" ]]; then
    problem="exit $got, expected $want"
  elif [[ $stream == stderr ]]; then
    lines=$(wc -l < "$tmp/err")
    if [[ $lines != 1 ]] || ! head -c 8 "$tmp/err" | grep -q '^qdrift: '; then
      problem="stderr is not one line starting 'qdrift: '"
    elif ! grep -qF -- "$fragment" "$tmp/err"; then
      problem="stderr lacks '$fragment'"
    fi
  elif ! grep -qF -- "$fragment" "$tmp/out"; then
    problem="stdout lacks '$fragment'"
  fi
  if [[ -n $problem ]]; then
    ((failed++))
    echo "FAIL qdrift $args: $problem"
    sed 's/^/  stderr: /' "$tmp/err" | head -5
  else
    echo "ok   qdrift $args"
  fi
done < "$here/manifest.txt"
echo "bad_inputs: $((cases - failed))/$cases cases as expected"
((failed == 0))
