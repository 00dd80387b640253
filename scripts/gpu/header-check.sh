#!/usr/bin/env bash
# Checks the project's own cuDNN / cuBLAS declarations (native/cuda/cudnn_api.h, cublas_api.h)
# against NVIDIA's real headers by compiling native/cuda/header_check.cc, which static_asserts
# every enumerator value, struct layout and function signature we declare.
#
# The real headers are looked for in: $CUDNN_INCLUDE_DIR / $CUBLAS_INCLUDE_DIR, the nvidia/cudnn,
# nvidia/cu13 and nvidia/cublas include folders of every Python path entry (pip wheels),
# /usr/include, /usr/include/x86_64-linux-gnu and the CUDA toolkit's include folder
# ($CUDA_INCLUDE_DIR, beside nvcc, /usr/local/cuda/include, or a pip wheel's).
#
# Exit status: 0 all checks pass, 1 a check (or the compile) failed, 2 the real headers are missing.
set -u
cd "$(dirname "$0")/../.." || exit 1
CXX="${CXX:-g++}"

python_paths() {
  command -v python3 >/dev/null 2>&1 || return 0
  python3 -c 'import sys; print("\n".join(p for p in sys.path if p))' 2>/dev/null
}

# The first folder among the arguments that holds the file named by $1.
first_with() {
  local file="$1" dir
  shift
  for dir in "$@"; do
    if [ -n "$dir" ] && [ -f "$dir/$file" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

mapfile -t pyPaths < <(python_paths)
cudaCandidates=("${CUDA_INCLUDE_DIR:-}")
if command -v nvcc >/dev/null 2>&1; then
  cudaCandidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")/include")
fi
cudaCandidates+=(/usr/local/cuda/include)
for p in "${pyPaths[@]}"; do cudaCandidates+=("$p/nvidia/cu13/include" "$p/nvidia/cuda_runtime/include"); done
cudaInclude="$(first_with cuda_runtime_api.h "${cudaCandidates[@]}")" || cudaInclude=""

cudnnCandidates=("${CUDNN_INCLUDE_DIR:-}")
cublasCandidates=("${CUBLAS_INCLUDE_DIR:-}")
for p in "${pyPaths[@]}"; do
  cudnnCandidates+=("$p/nvidia/cudnn/include")
  cublasCandidates+=("$p/nvidia/cu13/include" "$p/nvidia/cublas/include")
done
cudnnCandidates+=(/usr/include /usr/include/x86_64-linux-gnu "$cudaInclude")
cublasCandidates+=(/usr/include /usr/include/x86_64-linux-gnu "$cudaInclude")

missing=0
# cuDNN 9 splits the old cudnn.h: its cudnn.h includes cudnn_graph.h, which earlier versions lack.
if ! cudnnInclude="$(first_with cudnn_graph.h "${cudnnCandidates[@]}")" || [ ! -f "$cudnnInclude/cudnn.h" ]; then
  echo "header check: the real cuDNN 9 headers (cudnn.h with cudnn_graph.h) were not found;" \
       "set CUDNN_INCLUDE_DIR to their folder"
  missing=1
fi
if ! cublasInclude="$(first_with cublas_api.h "${cublasCandidates[@]}")" || [ ! -f "$cublasInclude/cublas_v2.h" ]; then
  echo "header check: the real cuBLAS headers (cublas_v2.h, cublas_api.h) were not found;" \
       "set CUBLAS_INCLUDE_DIR to their folder"
  missing=1
fi
if [ -z "$cudaInclude" ]; then
  echo "header check: the CUDA toolkit headers (cuda_runtime_api.h) were not found;" \
       "set CUDA_INCLUDE_DIR to their folder"
  missing=1
fi
[ "$missing" = 0 ] || exit 2

macro() {  # the value of #define $2 in file $1
  sed -n "s/^#define $2[[:space:]]\{1,\}\([0-9]\{1,\}\).*/\1/p" "$1" | head -n 1
}
cudnnVersion="$(macro "$cudnnInclude/cudnn_version.h" CUDNN_MAJOR).$(macro "$cudnnInclude/cudnn_version.h" CUDNN_MINOR).$(macro "$cudnnInclude/cudnn_version.h" CUDNN_PATCHLEVEL)"
cublasVersion="$(macro "$cublasInclude/cublas_api.h" CUBLAS_VER_MAJOR).$(macro "$cublasInclude/cublas_api.h" CUBLAS_VER_MINOR).$(macro "$cublasInclude/cublas_api.h" CUBLAS_VER_PATCH)"

flags=(-std=c++17 -I"$cudnnInclude" -I"$cublasInclude" -I"$cudaInclude" native/cuda/header_check.cc)
if ! output="$("$CXX" -fsyntax-only "${flags[@]}" 2>&1)"; then
  echo "$output"
  echo "header check: FAILED against cuDNN $cudnnVersion headers in $cudnnInclude and cuBLAS $cublasVersion headers in $cublasInclude"
  exit 1
fi

# Count the checks: each static_assert message of header_check.cc starts with "header check <kind>: ".
expanded="$("$CXX" -E -P "${flags[@]}" 2>/dev/null)"
count() { grep -o "\"header check $1: " <<<"$expanded" | wc -l | tr -d ' '; }
values="$(count value)"
layouts="$(count layout)"
signatures="$(count signature)"
echo "header check: OK ($values values checked, $layouts layout facts, $signatures function signatures)" \
     "against cuDNN $cudnnVersion headers in $cudnnInclude and cuBLAS $cublasVersion headers in $cublasInclude"
