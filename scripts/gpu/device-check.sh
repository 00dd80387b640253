#!/usr/bin/env bash
# The one check run on a GPU machine, from the project root:
#   bash .device/run.sh bash scripts/gpu/device-check.sh
# Prepared on the development machine with the CUDA build in build/ and, leaving out the
# on-demand onnxruntime-node (about 290 MB, not used on the GPU):
#   DEVICE_EXCLUDE='node_modules/onnxruntime-node' ../shared/device/pack.sh
# (run.sh puts node / npm on PATH and the wheels' cuDNN / cuBLAS on LD_LIBRARY_PATH, and sets
# CUDNN_RESNET_REQUIRE_CUDA=1; nothing here downloads anything). In order:
#   1. the machine: nvidia-smi, node --version, PyTorch's version / CUDA / cuDNN;
#   2. scripts/gpu/header-check.sh (our cuDNN / cuBLAS declarations against the real headers),
#      skipped with a note where the file is absent;
#   3. rn.backends().cuda as JSON, and one small op on the device;
#   4. the GPU tests (vitest, verbose; the JSON report in $OUT/gpu-tests.json);
#   5. the per-op profile of a ResNet-50 training step (autocast bf16, batch 256, channels-last,
#      3 warm-up + 20 profiled steps; estimated under 40 s, capped at 90 s), the JSON in
#      $OUT/profile-resnet50-train.json (it runs before the benchmark and takes from its time);
#   6. the GPU benchmark: npm run bench -- gpu --runs 3, the JSON in $OUT/bench-gpu.json;
#   7. a summary: each step's exit code and seconds.
# Every step runs whatever happened before it; each is capped by `timeout`, and all of them by
# DEVICE_CHECK_BUDGET_S (default 530 s: with run.sh unpacking first, under the 600 s a device
# command may take). Everything printed goes to $OUT/device-check.log too ($OUT unset: ./).
# Exits 1 when a step failed.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.." || exit 1

out_dir=${OUT:-.}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
log="$out_dir/device-check.log"
: > "$log"
budget=${DEVICE_CHECK_BUDGET_S:-530}
deadline=$(( $(date +%s) + budget ))
export CUDNN_RESNET_REQUIRE_CUDA=1

names=() codes=() secs=() notes=()

say() { printf '%s\n' "$*" | tee -a "$log"; }

# step NAME CAP_SECONDS COMMAND...: runs COMMAND under `timeout`, its output on the terminal and
# in the log; records the exit code (124: timed out) and the seconds it took.
step() {
  local name=$1 cap=$2
  shift 2
  local left=$(( deadline - $(date +%s) - 5 ))
  say ""
  say "==== ${name} ($(date -u +%H:%M:%S) UTC, cap ${cap} s, ${left} s of the budget left)"
  if (( left < 5 )); then
    say "not run: the time budget (${budget} s) is spent"
    names+=("$name") codes+=("-") secs+=("0.0") notes+=("not run: no time left")
    return
  fi
  (( cap > left )) && cap=$left
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout -k 10 "$cap" "$@" < /dev/null 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  t1=$(date +%s.%N)
  local note=""
  case $rc in
    0) note="ok" ;;
    124|137) note="TIMED OUT after ${cap} s" ;;
    *) note="FAILED" ;;
  esac
  names+=("$name") codes+=("$rc") secs+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')") notes+=("$note")
  say "---- ${name}: exit ${rc} (${note})"
}

# a step that did not run, and why (not a failure)
skipped() {
  say ""
  say "==== $1"
  say "skipped: $2"
  names+=("$1") codes+=("skip") secs+=("0.0") notes+=("$2")
}

say "device-check: $(date -u '+%Y-%m-%d %H:%M:%S') UTC on $(hostname), in $(pwd); log: ${log}"
say "PATH=${PATH}"
say "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
say "CUDNN_RESNET_REQUIRE_CUDA=${CUDNN_RESNET_REQUIRE_CUDA}; the addon: $(ls -l build/Release/cudnn_resnet.node 2>&1)"

# 1. the machine
step "1a nvidia-smi" 30 nvidia-smi
step "1b node --version" 15 node --version
step "1c torch" 60 python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version()); print("cuda available:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'

# 2. our cuDNN / cuBLAS declarations against the real headers
if [[ -f scripts/gpu/header-check.sh ]]; then
  step "2 header-check" 90 bash scripts/gpu/header-check.sh
else
  skipped "2 header-check" "scripts/gpu/header-check.sh is absent"
fi

# 3. what the addon sees, and one op on the device (exits 1 where CUDA is unavailable)
step "3 rn.backends().cuda" 60 node --import tsx -e "
import('./lib/index.ts').then((rn) => {
  const cuda = rn.backends().cuda;
  console.log(JSON.stringify(cuda, null, 2));
  if (!cuda.available) { console.log('CUDA unavailable: ' + cuda.reason); process.exitCode = 1; return; }
  const total = rn.sum(rn.ones([1000, 1000], { device: 'cuda' })).item();
  rn.cuda.synchronize();
  console.log('sum of 10^6 ones on the device: ' + total + '; rn.cuda.memory(): ' + JSON.stringify(rn.cuda.memory()));
  if (total !== 1e6) process.exitCode = 1;
});"

# 4. the GPU tests
tests_json="$out_dir/gpu-tests.json"
rm -f "$tests_json"
step "4 GPU tests (vitest)" 180 npx --no vitest run test/cuda_device.test.ts test/cuda_ops.test.ts test/cuda_training.test.ts test/cuda_graph.test.ts \
  test/amp.test.ts test/profiler.test.ts test/conv_bn_stats.test.ts test/conv_epilogue.test.ts \
  --reporter=verbose --reporter=json --outputFile.json="$tests_json"

# 5. where the time of a training step goes, per op; before the benchmark, whose cap the budget
# may cut, so that this short step always runs
profile_json="$out_dir/profile-resnet50-train.json"
rm -f "$profile_json"
# shellcheck disable=SC2016  # $1 and $rc expand in the inner shell
step "5 profile resnet50 train" 90 bash -c '
npm run bench -- profile --model resnet50 --mode train --device cuda --amp bfloat16 --batch 256 --channels-last \
  --warmup 3 --steps 20 --json "$1"
rc=$?
if [[ ! -s "$1" ]]; then echo "no profile JSON written ($1)"; (( rc == 0 )) && rc=1; fi
exit $rc' profile "$profile_json"

# 6. the GPU benchmark; a run that writes no JSON (CUDA unavailable: the suite only says why) fails
bench_json="$out_dir/bench-gpu.json"
rm -f "$bench_json"
# shellcheck disable=SC2016  # $1 and $rc expand in the inner shell
step "6 bench gpu" 360 bash -c '
npm run bench -- gpu --runs 3 --json "$1"
rc=$?
if [[ ! -s "$1" ]]; then echo "no benchmark JSON written ($1)"; (( rc == 0 )) && rc=1; fi
exit $rc' bench "$bench_json"

# 7. the summary
failed=0
say ""
say "==== summary (${log})"
summary=$(
  printf '%-24s  %5s  %7s  %s\n' step exit seconds result
  printf '%-24s  %5s  %7s  %s\n' ------------------------ ----- ------- ------
  for i in "${!names[@]}"; do
    printf '%-24s  %5s  %7s  %s\n' "${names[$i]}" "${codes[$i]}" "${secs[$i]}" "${notes[$i]}"
  done
)
say "$summary"
for c in "${codes[@]}"; do
  [[ $c == 0 || $c == skip ]] || failed=1
done
for f in "$tests_json" "$profile_json" "$bench_json"; do
  if [[ -s $f ]]; then say "written: $f"; else say "not written: $f"; fi
done
if (( failed )); then say "device-check: FAILED"; else say "device-check: all steps passed"; fi
exit "$failed"
