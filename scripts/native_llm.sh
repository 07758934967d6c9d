#!/usr/bin/env bash
# Build xllamacpp (llama.cpp) for the CPU it runs on, once, and install it over the prebuilt
# wheel. The prebuilt wheel has no AVX-512 code; llama.cpp's own build (GGML_NATIVE=ON) uses
# whatever this CPU has. The built wheel is kept in the cache folder, keyed by the package
# version and the CPU's feature flags, so a second install (or a second clone) reuses it.
# When the build is impossible (no compiler, no cmake, an error) the prebuilt wheel stays.
#
#   scripts/native_llm.sh PYTHON        (make does this; NATIVE_LLM=0 skips it)
set -uo pipefail

PYTHON=${1:?usage: native_llm.sh PYTHON}
CACHE=${NEWSCITE_CACHE:-$HOME/.cache/newscite}/wheels

version=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("xllamacpp"))' 2>/dev/null) || {
    echo "native llama.cpp: xllamacpp is not installed; nothing to build"; exit 0; }
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | sha256sum | cut -c1-12)
dir="$CACHE/xllamacpp-$version-native-$flags"

wheel=$(ls "$dir"/xllamacpp-*.whl 2>/dev/null | head -1)
if [ -z "$wheel" ]; then
    for tool in cmake cc c++; do
        command -v "$tool" >/dev/null || {
            echo "native llama.cpp: $tool not found; keeping the prebuilt wheel"; exit 0; }
    done
    echo "native llama.cpp: building xllamacpp $version for this CPU (once; about 15 min on 2 cores)"
    mkdir -p "$dir.tmp" && log="$dir.tmp/build.log"
    started=$(date +%s)
    # The HTTPS client (BoringSSL) and structured output (llguidance) would be fetched from
    # the network at build time, and newscite uses neither. AMX stays off: a CPU can list it
    # while the kernel (or a virtual machine) does not enable its tile state, and llama.cpp's
    # AMX kernels then die with SIGILL on the first matrix product.
    noamx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    if ! CMAKE_ARGS="-DLLAMA_BUILD_BORINGSSL=OFF -DLLAMA_LLGUIDANCE=OFF -DCMAKE_C_FLAGS='$noamx' -DCMAKE_CXX_FLAGS='$noamx'" \
         NPROC=$(nproc) "$PYTHON" -m pip wheel -q --no-cache-dir --no-binary xllamacpp \
         --no-deps "xllamacpp==$version" -w "$dir.tmp" >"$log" 2>&1; then
        echo "native llama.cpp: the build failed (log: $log); keeping the prebuilt wheel"
        exit 0
    fi
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
    echo "native llama.cpp: built in $(( $(date +%s) - started )) s"
    wheel=$(ls "$dir"/xllamacpp-*.whl | head -1)
fi
# a build that cannot run here (an instruction the CPU lists but may not use) is dropped
if "$PYTHON" -m pip install -q --no-deps --force-reinstall "$wheel" &&
   "$PYTHON" -m rag.llm.smoke >/dev/null 2>&1; then
    echo "native llama.cpp: installed $(basename "$wheel") from $dir"
else
    echo "native llama.cpp: the built wheel does not run here; keeping the prebuilt wheel"
    rm -rf "$dir"
    "$PYTHON" -m pip install -q --no-deps --force-reinstall "xllamacpp==$version" || true
fi
