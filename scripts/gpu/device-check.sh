#!/usr/bin/env bash
# The one check run on a GPU machine, from the project root:
#   bash .device/run.sh bash scripts/gpu/device-check.sh
# Prepared on the development machine with the CUDA build in build/ and, leaving out the
# on-demand onnxruntime-node (about 290 MB, not used on the GPU):
#   DEVICE_EXCLUDE='node_modules/onnxruntime-node' ../shared/device/pack.sh
# (run.sh puts node / npm on PATH and the wheels' cuDNN / cuBLAS on LD_LIBRARY_PATH, and sets
# CUDNN_RESNET_REQUIRE_CUDA=1; nothing here downloads anything).
#
# One run gives the most evidence whatever fails: every step is time-boxed (`timeout`) and
# independent of the others, and writes its output as it goes to $OUT (the folder the device tool
# brings back; ./device-check-out when unset): steps/NN-name.log per step, device-check.log for
# all, progress.txt (each step as it starts and ends), so a run cut short still says how far it got.
#   1  smoke (scripts/gpu/smoke.ts, under a minute): device, driver, cuDNN / cuBLAS versions; one
#      conv2d forward + backward, one batch norm, one matmul, one ResNet-18 training step, each
#      against the CPU, with what failed and why ($OUT/smoke.jsonl);
#   2  the machine: nvidia-smi, PyTorch's version / CUDA / cuDNN;
#   3  scripts/gpu/header-check.sh: our declarations against NVIDIA's real headers (skipped with a
#      note where they are absent);
#   4  the GPU tests, file by file (a crash of one file does not hide the others), each with its
#      JSON report in $OUT/tests/, each capped at 90 s and all at DEVICE_CHECK_TESTS_S (240 s);
#      per-test results summed up in $OUT/gpu-tests-summary.txt;
#   5  the per-op profile of a ResNet-50 training step (autocast bf16, batch 256, channels-last,
#      3 warm-up + 20 profiled steps), $OUT/profile-resnet50-train.json;
#   6  the GPU benchmark (npm run bench -- gpu --runs 3), $OUT/bench-gpu.json;
#   7  where nvcc, cmake and a C++ compiler are present: the addon compiled once more with
#      -arch=native (CMAKE_CUDA_ARCHITECTURES=native) into /tmp, and the smoke step run with it, in
#      case the sm_80 / sm_90 code built on the development machine misbehaves on this card; when
#      the first smoke step failed this runs right after it, else last (DEVICE_CHECK_NATIVE=0: never);
#   8  a summary: each step's exit code and seconds.
# Where no GPU answers (nvidia-smi lists none), the steps that need one are skipped with that
# reason (DEVICE_CHECK_GPU=1 runs them anyway: a dry run of the script's logic, where each fails
# quickly with the reason CUDA is unavailable; DEVICE_CHECK_NATIVE_ARCH replaces `native` in step 7,
# e.g. 90 where no card can be queried). All steps together are capped by DEVICE_CHECK_BUDGET_S (default 540 s: with run.sh
# unpacking first, under the 600 s a device command may take). Exits 1 when a step failed.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.." || exit 1
root=$(pwd)

out_dir=${OUT:-./device-check-out}
mkdir -p "$out_dir/steps" "$out_dir/tests"
out_dir=$(cd "$out_dir" && pwd)
log="$out_dir/device-check.log"
progress="$out_dir/progress.txt"
: > "$log"
: > "$progress"
budget=${DEVICE_CHECK_BUDGET_S:-540}
deadline=$(( $(date +%s) + budget ))
export CUDNN_RESNET_REQUIRE_CUDA=1

names=() codes=() secs=() notes=()
step_number=0

say() { printf '%s\n' "$*" | tee -a "$log"; }
left() { echo $(( deadline - $(date +%s) - 5 )); }

# step NAME CAP_SECONDS COMMAND...: runs COMMAND under `timeout` (CAP or what is left of the budget),
# its output on the terminal, in the log and in steps/NN-NAME.log; records the exit code (124: timed
# out) and the seconds it took.
step() {
  local name=$1 cap=$2
  shift 2
  step_number=$((step_number + 1))
  local file
  file="$out_dir/steps/$(printf '%02d' "$step_number")-$(tr -c 'A-Za-z0-9.\n-' '_' <<<"$name").log"
  local remaining
  remaining=$(left)
  say ""
  say "==== ${name} ($(date -u +%H:%M:%S) UTC, cap ${cap} s, ${remaining} s of the budget left)"
  if (( remaining < 10 )); then
    say "not run: the time budget (${budget} s) is spent"
    echo "$(date -u +%H:%M:%S) not run: ${name} (no time left)" >> "$progress"
    names+=("$name") codes+=("-") secs+=("0.0") notes+=("not run: no time left")
    return
  fi
  (( cap > remaining )) && cap=$remaining
  echo "$(date -u +%H:%M:%S) started: ${name} (cap ${cap} s)" >> "$progress"
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout -k 10 "$cap" "$@" < /dev/null 2>&1 | tee "$file" | tee -a "$log"
  rc=${PIPESTATUS[0]}
  t1=$(date +%s.%N)
  local note=""
  case $rc in
    0) note="ok" ;;
    124|137) note="TIMED OUT after ${cap} s" ;;
    127) note="FAILED (command not found)" ;;
    *) note="FAILED" ;;
  esac
  local seconds
  seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  names+=("$name") codes+=("$rc") secs+=("$seconds") notes+=("$note")
  echo "$(date -u +%H:%M:%S) ended: ${name}: exit ${rc} (${note}, ${seconds} s)" >> "$progress"
  say "---- ${name}: exit ${rc} (${note})"
  return "$rc"
}

# a step that did not run, and why (not a failure)
skipped() {
  say ""
  say "==== $1"
  say "skipped: $2"
  echo "$(date -u +%H:%M:%S) skipped: $1 ($2)" >> "$progress"
  names+=("$1") codes+=("skip") secs+=("0.0") notes+=("$2")
}

say "device-check: $(date -u '+%Y-%m-%d %H:%M:%S') UTC on $(hostname), in ${root}; output in ${out_dir}"
say "PATH=${PATH}"
say "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
say "CUDNN_RESNET_REQUIRE_CUDA=${CUDNN_RESNET_REQUIRE_CUDA}; the addon: $(ls -l build/Release/cudnn_resnet.node 2>&1)"

gpu=1
if [[ ${DEVICE_CHECK_GPU:-} == 1 ]]; then
  say "DEVICE_CHECK_GPU=1: the GPU steps run whatever nvidia-smi says"
elif ! nvidia-smi -L > /dev/null 2>&1; then
  gpu=0
  say "no GPU: nvidia-smi is absent or lists no device; the steps that need one are skipped"
fi
no_gpu="no GPU (nvidia-smi is absent or lists no device)"

# 7. the addon compiled for this card, and the smoke step with it (a function: it runs early or last)
native_done=0
native_step() {
  native_done=1
  if [[ ${DEVICE_CHECK_NATIVE:-1} == 0 ]]; then skipped "7 -arch=native build + smoke" "DEVICE_CHECK_NATIVE=0"; return; fi
  if (( ! gpu )); then skipped "7 -arch=native build + smoke" "$no_gpu"; return; fi
  local nvcc_path
  nvcc_path=$(command -v nvcc || { [[ -x /usr/local/cuda/bin/nvcc ]] && echo /usr/local/cuda/bin/nvcc; } || true)
  if [[ -z $nvcc_path ]] || ! command -v cmake > /dev/null || ! command -v "${CXX:-c++}" > /dev/null; then
    skipped "7 -arch=native build + smoke" "needs nvcc, cmake and a C++ compiler (nvcc: ${nvcc_path:-absent})"
    return
  fi
  # A copy of the sources beside a build of their own: the addon loads from <package root>/build.
  local copy=/tmp/cudnn-resnet-native arch=${DEVICE_CHECK_NATIVE_ARCH:-native}
  # shellcheck disable=SC2016  # $1 .. $4 expand in the inner shell
  step "7a -arch=${arch} build" 240 bash -c '
set -e
rm -rf "$1" && mkdir -p "$1"
cp -r lib native scripts package.json CMakeLists.txt tsconfig.json "$1"/
ln -s "$2/node_modules" "$1/node_modules"
cd "$1"
export CUDACXX="$3"
node node_modules/cmake-js/bin/cmake-js compile --CDCUDNN_RESNET_CUDA=ON "--CDCMAKE_CUDA_ARCHITECTURES=$4" \
  --parallel "$(nproc)"
ls -l build/Release/cudnn_resnet.node' native "$copy" "$root" "$nvcc_path" "$arch" &&
    step "7b smoke (-arch=${arch} build)" 90 bash -c 'cd "$1" && node --import tsx scripts/gpu/smoke.ts "$2"' \
      smoke "$copy" "$out_dir/smoke-native.jsonl"
}

# 1. smoke: the core paths against the CPU, in under a minute
smoke_ok=1
if (( gpu )); then
  step "1 smoke" 90 node --import tsx scripts/gpu/smoke.ts "$out_dir/smoke.jsonl" || smoke_ok=0
else
  step "1 smoke (no GPU: reports why CUDA is unavailable)" 60 node --import tsx scripts/gpu/smoke.ts "$out_dir/smoke.jsonl" ||
    smoke_ok=0
fi
(( ! smoke_ok && gpu )) && native_step

# 2. the machine
if (( gpu )); then step "2a nvidia-smi" 20 nvidia-smi; else skipped "2a nvidia-smi" "$no_gpu"; fi
step "2b torch" 45 python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version()); print("cuda available:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'

# 3. our cuDNN / cuBLAS declarations against the real headers (exit 2: headers absent)
header_rc=0
step "3 header-check" 60 bash scripts/gpu/header-check.sh || header_rc=$?
if (( header_rc == 2 )); then
  codes[${#codes[@]}-1]=skip
  notes[${#notes[@]}-1]="NVIDIA's headers are absent here"
  echo "$(date -u +%H:%M:%S) (3 header-check: exit 2 means NVIDIA's headers are absent: counted as skipped)" >> "$progress"
fi

# 4. the GPU tests, file by file
gpu_tests=(test/cuda_device.test.ts test/cuda_ops.test.ts test/cuda_fallbacks.test.ts test/cuda_training.test.ts
  test/cuda_graph.test.ts test/amp.test.ts test/profiler.test.ts test/conv_bn_stats.test.ts test/conv_epilogue.test.ts
  test/optim_adam.test.ts)
if (( gpu )); then
  # All files together within DEVICE_CHECK_TESTS_S (default 240 s), each within 90 s of it.
  tests_deadline=$(( $(date +%s) + ${DEVICE_CHECK_TESTS_S:-240} ))
  for file in "${gpu_tests[@]}"; do
    base=$(basename "$file" .test.ts)
    cap=$(( tests_deadline - $(date +%s) ))
    (( cap > 90 )) && cap=90
    if (( cap < 10 )); then skipped "4 test ${base}" "the GPU tests' time (${DEVICE_CHECK_TESTS_S:-240} s) is spent"; continue; fi
    step "4 test ${base}" "$cap" npx --no vitest run "$file" --reporter=verbose --reporter=json \
      --outputFile.json="$out_dir/tests/${base}.json"
  done
  node scripts/gpu/test-summary.mjs "$out_dir/tests" "${gpu_tests[@]}" 2>&1 | tee "$out_dir/gpu-tests-summary.txt" | tee -a "$log"
else
  skipped "4 GPU tests" "$no_gpu"
fi

# 5. where the time of a training step goes, per op (before the benchmark, which may be cut)
profile_json="$out_dir/profile-resnet50-train.json"
rm -f "$profile_json"
if (( gpu )); then
  # shellcheck disable=SC2016  # $1 and $rc expand in the inner shell
  step "5 profile resnet50 train" 90 bash -c '
npm run bench -- profile --model resnet50 --mode train --device cuda --amp bfloat16 --batch 256 --channels-last \
  --warmup 3 --steps 20 --json "$1"
rc=$?
if [[ ! -s "$1" ]]; then echo "no profile JSON written ($1)"; (( rc == 0 )) && rc=1; fi
exit $rc' profile "$profile_json"
else
  skipped "5 profile resnet50 train" "$no_gpu"
fi

# 6. the GPU benchmark; a run that writes no JSON (CUDA unavailable: the suite only says why) fails.
# It leaves the -arch=native build (step 7) about four minutes when that has yet to run.
bench_json="$out_dir/bench-gpu.json"
rm -f "$bench_json"
if (( gpu )); then
  bench_cap=300
  (( ! native_done && ${DEVICE_CHECK_NATIVE:-1} != 0 )) && bench_cap=$(( $(left) - 240 ))
  (( bench_cap < 60 )) && bench_cap=60
  # shellcheck disable=SC2016  # $1 and $rc expand in the inner shell
  step "6 bench gpu" "$bench_cap" bash -c '
npm run bench -- gpu --runs 3 --json "$1"
rc=$?
if [[ ! -s "$1" ]]; then echo "no benchmark JSON written ($1)"; (( rc == 0 )) && rc=1; fi
exit $rc' bench "$bench_json"
else
  skipped "6 bench gpu" "$no_gpu"
fi

(( native_done )) || native_step

# 8. the summary
failed=0
say ""
say "==== summary (${log})"
summary=$(
  printf '%-36s  %5s  %7s  %s\n' step exit seconds result
  printf '%-36s  %5s  %7s  %s\n' ------------------------------------ ----- ------- ------
  for i in "${!names[@]}"; do
    printf '%-36s  %5s  %7s  %s\n' "${names[$i]}" "${codes[$i]}" "${secs[$i]}" "${notes[$i]}"
  done
)
say "$summary"
for c in "${codes[@]}"; do
  [[ $c == 0 || $c == skip ]] || failed=1
done
for f in "$out_dir/smoke.jsonl" "$out_dir/gpu-tests-summary.txt" "$profile_json" "$bench_json"; do
  if [[ -s $f ]]; then say "written: $f"; else say "not written: $f"; fi
done
if (( failed )); then say "device-check: FAILED"; else say "device-check: all steps passed"; fi
echo "$(date -u +%H:%M:%S) finished: $([[ $failed == 1 ]] && echo FAILED || echo all steps passed)" >> "$progress"
exit "$failed"
