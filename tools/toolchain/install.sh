#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make toolchain: builds and installs the P4 tools symdist tests against, at
# pinned versions, into PREFIX (default /opt/p4):
#   PI v0.1.2, behavioral-model 1.15.5 (the debug build the tests use, and a
#   speed build in PERF_PREFIX for make bench-switch), p4c v1.2.4.8 (bmv2 and
#   p4test back ends), PTF v0.12.2; with TOFINO=1 also p4c v1.2.5.16 with the
#   Tofino back end and its assembler (p4c-barefoot, bfas, bfdumpbin, bfdis) in
#   TOFINO_PREFIX, patched for p4c#5753 (parser selects). That step is the
#   long one: its back end alone is 30 unity files of eight large sources;
#   about 3 h of wall time here on 2 loaded cores (docs/hardware.md, "The
#   toolchain"). A run after a failure resumes that build where it stopped.
#
# Sources: the upstream git repositories at the pinned tags, or P4_SRC=DIR:
# local clones or bare mirrors, found as DIR/p4lang+PI/repo, DIR/p4lang+PI,
# DIR/PI.git or DIR/PI (likewise behavioral-model, p4c, p4runtime, ptf,
# openconfig gnmi). Nothing else is downloaded but Debian packages.
#
# Idempotent: each step leaves a stamp naming its pinned version in
# PREFIX/.toolchain/, and a run that finds every stamp ends in seconds.
# FORCE=1 rebuilds. Every step prints its elapsed time; the whole output
# goes to the log (LOG, default BUILD/toolchain.log); the first failure
# stops the run with the failing command and the log's tail.
set -euo pipefail

PREFIX=${PREFIX:-/opt/p4}
PERF_PREFIX=${PERF_PREFIX:-${PREFIX}perf}
TOFINO_PREFIX=${TOFINO_PREFIX:-${PREFIX}tofino}
BUILD=${BUILD:-${PREFIX}build}
LOG=${LOG:-$BUILD/toolchain.log}
P4_SRC=${P4_SRC:-}
TOFINO=${TOFINO:-0}
FORCE=${FORCE:-0}
JOBS=${JOBS:-$(nproc)}
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# The pins. PI v0.1.2 pins p4runtime and gnmi as submodules at these commits;
# p4c fetches p4runtime at its CMake-pinned commit, supplied locally here.
PI_TAG=v0.1.2
PI_P4RUNTIME=ec4eb5ef70dbcbcbf2f8357a4b2b8c2f218845a5
PI_GNMI=9c8d9e965b3e854107ea02c12ab11b70717456f2
BMV2_TAG=1.15.5
P4C_TAG=v1.2.4.8
P4C_P4RUNTIME=1e771c4e05c4e7e250df00212b3ca02ee3202d71
PTF_TAG=v0.12.2
TOFINO_P4C_TAG=v1.2.5.16
# The stamp names the edits too: a tree built before the parser fix
# (p4c#5753, below) is rebuilt, resuming where it is.
TOFINO_P4C_STAMP="$TOFINO_P4C_TAG+p4c5753"
TOFINO_P4C_P4RUNTIME=ec4eb5ef70dbcbcbf2f8357a4b2b8c2f218845a5
TOFINO_SPDLOG_TAG=v1.8.3
TOFINO_JSL_TAG=0.2.4
TOFINO_ABSEIL_TAG=20240722.1
TOFINO_APT_PACKAGES=(rapidjson-dev python3-jsonschema python3-yaml)

APT_PACKAGES=(
  python3-scapy mininet tcpreplay tcpdump iproute2 ethtool iptables
  libprotobuf-dev protobuf-compiler libprotoc-dev libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libabsl-dev
  libthrift-dev thrift-compiler python3-thrift python3-grpcio python3-protobuf
  libboost-dev libboost-program-options-dev libboost-system-dev libboost-filesystem-dev libboost-thread-dev
  libboost-iostreams-dev libboost-graph-dev
  libgmp-dev libpcap-dev libnanomsg-dev libjudy-dev libreadline-dev libtool autoconf automake pkg-config
  bison flex cmake g++ make libgc-dev libfl-dev libjsoncpp-dev libxxhash-dev uthash-dev googletest libgtest-dev
  git python3 python3-setuptools
)

START=$(date +%s)
STAMPS=$PREFIX/.toolchain
mkdir -p "$BUILD" "$(dirname "$LOG")"
: >>"$LOG"

elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
say() { printf '%s\n' "$*" | tee -a "$LOG"; }

# run CMD...: runs a command with its output in the log only; on failure
# prints the command, the log's tail and exits.
run() {
  printf '+ %s\n' "$*" >>"$LOG"
  if ! "$@" >>"$LOG" 2>&1; then
    say "make toolchain: FAILED: $*"
    say "  (in $(pwd); log: $LOG; last 30 lines:)"
    tail -n 30 "$LOG" | sed 's/^/  | /'
    exit 1
  fi
}

# stampdir NAME: where NAME's stamp is: the Tofino tools' in TOFINO_PREFIX
# (a TOFINO=1 run leaves PREFIX as it was), the others' in PREFIX.
stampdir() {
  if [[ $1 == p4c-tofino ]]; then echo "$TOFINO_PREFIX/.toolchain"; else echo "$STAMPS"; fi
}

# stamped NAME VERSION: whether NAME's stamp names VERSION (and no FORCE=1).
stamped() {
  local f
  f=$(stampdir "$1")/$1
  [[ $FORCE != 1 && -f $f && $(cat "$f") == "$2" ]]
}

# step NAME VERSION FUNCTION: runs FUNCTION unless its stamp names VERSION.
step() {
  local name=$1 version=$2 fn=$3 t
  if stamped "$name" "$version"; then
    say "== $name $version: already built (stamp $(stampdir "$name")/$name)"
    return
  fi
  t=$(date +%s)
  say "== $name $version: building ($(date -u +%H:%M:%S) UTC; log $LOG)"
  ( set -e; "$fn" )
  mkdir -p "$(stampdir "$name")"
  echo "$version" >"$(stampdir "$name")/$name"
  say "== $name $version: done in $(elapsed "$t") (total $(elapsed "$START"))"
}

# need_github: without P4_SRC the sources are cloned from github.com; where
# it cannot be reached, say so in one line (on stderr: gitdir's output is
# captured) rather than fail in a clone.
need_github() {
  if ! timeout 60 git ls-remote https://github.com/p4lang/PI.git HEAD >/dev/null 2>&1; then
    say "make toolchain: cannot reach github.com (git ls-remote failed); give P4_SRC=DIR with clones or bare mirrors of p4lang/PI, behavioral-model, p4c, p4runtime, ptf and openconfig/gnmi" >&2
    exit 1
  fi
}

# gitdir OWNER NAME: the git directory to take OWNER/NAME's sources from.
gitdir() {
  local owner=$1 name=$2 c
  if [[ -n $P4_SRC ]]; then
    for c in "$P4_SRC/$owner+$name/repo" "$P4_SRC/$owner+$name" "$P4_SRC/$name.git" "$P4_SRC/$name"; do
      if [[ -d $c ]] && git -C "$c" rev-parse --absolute-git-dir >/dev/null 2>&1; then
        git -C "$c" rev-parse --absolute-git-dir
        return
      fi
    done
    say "make toolchain: P4_SRC=$P4_SRC has no clone of $owner/$name (looked for $owner+$name/repo, $owner+$name, $name.git, $name)" >&2
    exit 1
  fi
  c=$BUILD/src/$owner+$name.git
  if [[ ! -d $c ]]; then
    need_github
    run git clone --bare "https://github.com/$owner/$name.git" "$c"
  fi
  echo "$c"
}

# extract OWNER NAME REV DIR: the tree of REV into a new DIR. Blobs missing
# from a mirror (p4c's LFS-sized docs/compiler-design.pptx) are left out.
extract() {
  local gd rev=$3 dir=$4 idx
  gd=$(gitdir "$1" "$2")
  rm -rf "$dir" && mkdir -p "$dir"
  idx=$(mktemp)
  GIT_INDEX_FILE=$idx run git --git-dir="$gd" read-tree "$rev"
  local list missing
  list=$(mktemp)
  GIT_INDEX_FILE=$idx git --git-dir="$gd" ls-files -s | sed -E 's/^[0-9]+ ([0-9a-f]+) [0-9]+\t/\1 /' >"$list"
  missing=$(cut -d' ' -f1 "$list" | git --git-dir="$gd" cat-file --batch-check | awk '$2 == "missing" {print $1}' |
    { grep -F -f - "$list" || true; } | cut -d' ' -f2-)
  rm -f "$list"
  if [[ -n $missing ]]; then
    printf 'left out (blob not in %s): %s\n' "$gd" "$missing" >>"$LOG"
    while read -r p; do GIT_INDEX_FILE=$idx run git --git-dir="$gd" rm -q --cached -- "$p"; done <<<"$missing"
  fi
  GIT_INDEX_FILE=$idx run git --git-dir="$gd" --work-tree="$dir" checkout-index -a -f
  rm -f "$idx"
}

apt_packages() {
  if ! command -v apt-get >/dev/null; then
    say "make toolchain: no apt-get; install these packages by hand: ${APT_PACKAGES[*]}"
    exit 1
  fi
  run apt-get update
  DEBIAN_FRONTEND=noninteractive run apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
}

build_pi() {
  local d=$BUILD/PI
  extract p4lang PI "$PI_TAG" "$d"
  mkdir -p "$d/proto/p4runtime" "$d/proto/openconfig/gnmi" "$d/third_party/uthash/src"
  extract p4lang p4runtime "$PI_P4RUNTIME" "$d/proto/p4runtime"
  extract openconfig gnmi "$PI_GNMI" "$d/proto/openconfig/gnmi"
  cp /usr/include/{utarray,uthash,utlist,utringbuffer,utstack,utstring}.h "$d/third_party/uthash/src/"
  rm -rf "$d/third_party/googletest" && cp -r /usr/src/googletest "$d/third_party/googletest"
  cd "$d"
  run ./autogen.sh
  run ./configure --prefix="$PREFIX" --with-proto --without-internal-rpc --without-cli --without-bmv2 CXXFLAGS=-O2 CFLAGS=-O2
  run nice make -j"$JOBS"
  run make install
  echo "$PREFIX/lib" >/etc/ld.so.conf.d/symdist-p4.conf
  run ldconfig
}

bmv2_configure_common=(--with-pi PYTHON=/usr/bin/python3)

build_bmv2() {
  local d=$BUILD/behavioral-model
  extract p4lang behavioral-model "$BMV2_TAG" "$d"
  cd "$d"
  run ./autogen.sh
  # --with-thrift explicitly, so that simple_switch_grpc's sub-configure
  # also serves Thrift (simple_switch_CLI, port 9090).
  run ./configure --prefix="$PREFIX" "${bmv2_configure_common[@]}" --with-thrift CXXFLAGS=-O2 CFLAGS=-O2 \
    CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib" PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
  run nice make -j"$JOBS"
  run make install
  run ldconfig
  # bmv2's Python tools: Debian's python3 (a pyenv python3 may be first on
  # PATH); PI's empty google/__init__.py would shadow Debian's google.protobuf.
  local f
  for f in bm_CLI bm_nanomsg_events bm_p4dbg pna_nic_CLI psa_switch_CLI simple_switch_CLI; do
    [[ -f $PREFIX/bin/$f ]] && sed -i '1s|^#!/usr/bin/env python3$|#!/usr/bin/python3|' "$PREFIX/bin/$f"
  done
  rm -rf "$PREFIX"/lib/python3*/site-packages/google/__init__.py "$PREFIX"/lib/python3*/site-packages/google/__pycache__
}

build_bmv2_speed() {
  local d=$BUILD/behavioral-model-speed
  extract p4lang behavioral-model "$BMV2_TAG" "$d"
  cd "$d"
  run ./autogen.sh
  # bmv2's own performance advice; no Thrift. rpath order matters: the speed
  # build's own libbm* first, or it loads the debug build's.
  run ./configure --prefix="$PERF_PREFIX" "${bmv2_configure_common[@]}" --without-thrift --disable-logging-macros --disable-elogger \
    CXXFLAGS=-O3 CFLAGS=-O3 CPPFLAGS="-I$PREFIX/include" \
    LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PERF_PREFIX/lib -Wl,-rpath,$PREFIX/lib" PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
  run nice make -j"$JOBS"
  run make install
}

build_ptf() {
  local d=$BUILD/ptf
  extract p4lang ptf "$PTF_TAG" "$d"
  rm -rf "$PREFIX/ptf" && mkdir -p "$PREFIX/ptf"
  cp -a "$d"/{ptf,src,ptf_nn,README.md} "$PREFIX/ptf/"
  cp -a "$d"/LICENSE* "$PREFIX/ptf/" 2>/dev/null || true
  printf '__version__ = version = "%s"\n' "${PTF_TAG#v}" >"$PREFIX/ptf/src/ptf/_version.py"
  sed -i '1s|.*|#!/usr/bin/python3|' "$PREFIX/ptf/ptf"
  ln -sf "$PREFIX/ptf/ptf" "$PREFIX/bin/ptf"
  run /usr/bin/python3 "$PREFIX/ptf/ptf" --help
}

p4c_cmake() { # SRCDIR P4RUNTIME_DIR INSTALL_PREFIX EXTRA...
  local src=$1 p4rt=$2 prefix=$3; shift 3
  mkdir -p "$src/build" && cd "$src/build"
  run cmake .. -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON \
    -DENABLE_BMV2=ON -DENABLE_P4TEST=ON -DENABLE_EBPF=OFF -DENABLE_UBPF=OFF -DENABLE_DPDK=OFF -DENABLE_P4TC=OFF \
    -DENABLE_GTESTS=OFF -DENABLE_P4C_GRAPHS=OFF -DENABLE_TEST_TOOLS=OFF -DENABLE_DOCS=OFF \
    -DP4C_USE_PREINSTALLED_PROTOBUF=ON -DENABLE_PROTOBUF_STATIC=OFF \
    -DFETCHCONTENT_SOURCE_DIR_P4RUNTIME="$p4rt" -DPYTHON_EXECUTABLE=/usr/bin/python3 "$@"
  run nice make -j"$JOBS"
  run make install
}

build_p4c() {
  extract p4lang p4c "$P4C_TAG" "$BUILD/p4c"
  extract p4lang p4runtime "$P4C_P4RUNTIME" "$BUILD/p4runtime-p4c"
  p4c_cmake "$BUILD/p4c" "$BUILD/p4runtime-p4c" "$PREFIX"
}

# p4c's Tofino back end (p4c-barefoot) and its assembler (bfas, with
# bfdumpbin and bfdis), which p4c has in backends/tofino/bf-asm from
# v1.2.5.5 on. Only those targets are built (not the bmv2, p4test, p4fmt
# back ends nor the python driver, whose p4c-build-logs needs pyinstaller),
# and installed by hand into TOFINO_PREFIX: bin/ the four tools and the
# SDE's p4c-gen-conf, share/p4c/ the P4 includes. Every dependency is
# local: abseil at the release p4c's CMake pins (Debian's 20220623 has no
# absl::log), from its git (P4_SRC's abseil+abseil-cpp); Debian's libgc, googletest (bfdis needs p4c's
# gtest build of bfas_lib), protobuf 3.21 (found without a CMake config,
# below) and Z3 4.8.12 (p4c asks for 4.8.14, but only
# bridged_packing uses Z3, through the API 4.8.12 has; the check is
# relaxed in the extracted tree, else CMake fetches and builds Z3 4.13),
# spdlog at the tag the back end's CMake pins, from its git (P4_SRC's
# gabime+spdlog), and the schema generators' Python: Debian's python3 with
# jsonschema and yaml, and jsl (not packaged by Debian) from its git
# (aromanovich+jsl), on PYTHONPATH for the build.
# edit FILE SED CHECK: applies the sed expression to FILE unless CHECK (a
# grep pattern) is found in it already; then CHECK must be found.
edit() {
  grep -q -- "$3" "$1" || sed -i "$2" "$1"
  grep -q -- "$3" "$1" || { say "make toolchain: could not edit $1 ($2)"; exit 1; }
}

build_p4c_tofino() {
  local d=$BUILD/p4c-tofino
  DEBIAN_FRONTEND=noninteractive run apt-get install -y --no-install-recommends "${TOFINO_APT_PACKAGES[@]}"
  extract aromanovich jsl "$TOFINO_JSL_TAG" "$BUILD/jsl"
  # jsl 0.2.4 predates Python 3.10, which moved Iterable to collections.abc.
  sed -i 's/collections\.Iterable/collections.abc.Iterable/' "$BUILD/jsl/jsl/roles.py"
  sed -i 's/^import collections$/import collections\nimport collections.abc/' "$BUILD/jsl/jsl/roles.py"
  export PYTHONPATH=$BUILD/jsl${PYTHONPATH:+:$PYTHONPATH}
  # The generators run as "#!/usr/bin/env python3": Debian's, not a pyenv's.
  export PATH=/usr/bin:/bin:$PATH
  run /usr/bin/python3 -c 'import jsl, jsonschema, yaml'
  # An hour's build: a run after a failure resumes in the tree it left
  # (FORCE=1 starts afresh). The edits below are made once each.
  local src="$TOFINO_P4C_TAG $TOFINO_P4C_P4RUNTIME $TOFINO_SPDLOG_TAG $TOFINO_ABSEIL_TAG"
  if [[ $FORCE != 1 && -f $d/.toolchain-source && $(cat "$d/.toolchain-source") == "$src" ]]; then
    say "   resuming the build in $d (FORCE=1 starts afresh)"
  else
    extract p4lang p4c "$TOFINO_P4C_TAG" "$d"
    extract p4lang p4runtime "$TOFINO_P4C_P4RUNTIME" "$BUILD/p4runtime-p4c-tofino"
    extract gabime spdlog "$TOFINO_SPDLOG_TAG" "$d/backends/tofino/third_party/spdlog"
    extract abseil abseil-cpp "$TOFINO_ABSEIL_TAG" "$BUILD/abseil-p4c-tofino"
    echo "$src" >"$d/.toolchain-source"
  fi
  edit "$d/cmake/Z3.cmake" 's/set(Z3_MIN_VERSION "4.8.14")/set(Z3_MIN_VERSION "4.8.12")/' 'Z3_MIN_VERSION "4.8.12"'
  # Debian's protobuf 3.21 has no CMake package config: find it with CMake's
  # FindProtobuf module, as p4c up to v1.2.4 did when the config was absent.
  edit "$d/cmake/Protobuf.cmake" 's/find_package(Protobuf REQUIRED CONFIG /find_package(Protobuf REQUIRED /' \
    'find_package(Protobuf REQUIRED \${P4C'
  # That module's protobuf_generate names the generated files by the .proto's
  # path from the calling source directory, where protoc writes them by its
  # path from the import directory: control-plane's p4info.pb.cc would be
  # looked for outside the build. protobuf's own function, as it is shipped
  # with protobuf's CMake config, in the few lines p4c needs of it (and one
  # more, below).
  local gen
  gen=$(mktemp)
  cat >"$gen" <<'CMAKE'
function(protobuf_generate)
  cmake_parse_arguments(pg "" "TARGET;LANGUAGE;PROTOC_OUT_DIR;OUT_VAR" "IMPORT_DIRS;DEPENDENCIES;PROTOS" ${ARGN})
  if(pg_LANGUAGE STREQUAL cpp)
    set(exts .pb.h .pb.cc)
  else()
    set(exts _pb2.py)
  endif()
  set(protos ${pg_PROTOS})
  if(pg_TARGET)
    get_target_property(srcs ${pg_TARGET} SOURCES)
    foreach(f ${srcs})
      if(f MATCHES "proto$")
        list(APPEND protos ${f})
      endif()
    endforeach()
  endif()
  set(incs)
  foreach(dir ${pg_IMPORT_DIRS})
    get_filename_component(abs ${dir} ABSOLUTE)
    list(APPEND incs -I ${abs})
  endforeach()
  set(all)
  foreach(proto ${protos})
    get_filename_component(abs_file ${proto} ABSOLUTE)
    get_filename_component(abs_dir ${abs_file} DIRECTORY)
    get_filename_component(base ${proto} NAME_WLE)
    set(rel "")
    foreach(dir ${pg_IMPORT_DIRS})
      get_filename_component(abs ${dir} ABSOLUTE)
      string(FIND "${abs_dir}/" "${abs}/" at)
      if(at EQUAL 0)
        file(RELATIVE_PATH rel ${abs} ${abs_dir})
        break()
      endif()
    endforeach()
    if(rel)
      set(rel "${rel}/")
    endif()
    set(gen)
    foreach(ext ${exts})
      list(APPEND gen "${pg_PROTOC_OUT_DIR}/${rel}${base}${ext}")
    endforeach()
    set(fix)
    if(pg_LANGUAGE STREQUAL cpp)
      set(fix COMMAND sed -i -E -f ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/pb-cstring-setters.sed "${pg_PROTOC_OUT_DIR}/${rel}${base}.pb.h")
    endif()
    add_custom_command(OUTPUT ${gen}
      COMMAND protobuf::protoc ARGS --${pg_LANGUAGE}_out ${pg_PROTOC_OUT_DIR} ${incs} ${abs_file}
      ${fix}
      DEPENDS ${abs_file} protobuf::protoc ${pg_DEPENDENCIES} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/pb-cstring-setters.sed
      COMMENT "protoc ${pg_LANGUAGE} ${proto}" VERBATIM)
    list(APPEND all ${gen})
  endforeach()
  set_source_files_properties(${all} PROPERTIES GENERATED TRUE)
  if(pg_TARGET)
    target_sources(${pg_TARGET} PRIVATE ${all})
  endif()
  if(pg_OUT_VAR)
    set(${pg_OUT_VAR} ${all} PARENT_SCOPE)
  endif()
endfunction()
CMAKE
  cmp -s "$gen" "$d/cmake/ProtobufGenerate.cmake" || cp "$gen" "$d/cmake/ProtobufGenerate.cmake"
  # protobuf 3.21's generated string setters take std::string or char
  # pointers; p4c passes its cstring, which protobuf 22 and later take as a
  # string_view: each setter's argument is made a std::string first, and
  # each repeated string field's add_ takes what makes a std::string.
  cat >"$gen" <<'SED'
s/\.(Set|SetBytes)\( ?static_cast<ArgT0 &&>\(arg0\), args\.\.\., GetArenaForAllocation\(\)\)/.\1(::std::string(static_cast<ArgT0 \&\&>(arg0), args...), GetArenaForAllocation())/g
s/^(  )void add_([a-z0-9_]+)\(const char\* value, size_t size\);$/&\n\1template <typename T, typename = decltype(::std::string(::std::declval<const T\&>()))> void add_\2(const T\& value) { add_\2(::std::string(value)); }/
SED
  cmp -s "$gen" "$d/cmake/pb-cstring-setters.sed" || cp "$gen" "$d/cmake/pb-cstring-setters.sed"
  rm -f "$gen"
  edit "$d/cmake/Protobuf.cmake" 's|^\(\s*\)find_program(Protobuf_PROTOC_EXECUTABLE protoc)|&\n\1include(ProtobufGenerate)|' \
    'include(ProtobufGenerate)'
  # The back end generates its own p4info.proto (barefoot/) with a command
  # of its own, not protobuf_generate: the same fix after its protoc.
  edit "$d/backends/tofino/bf-p4c/CMakeLists.txt" \
    's|^\(\s*\)\${BFN_P4RUNTIME_INFO_PROTO}$|&\n\1COMMAND sed -i -E -f ${P4C_SOURCE_DIR}/cmake/pb-cstring-setters.sed ${BFN_P4RUNTIME_INFO_GEN_HDRS}|' \
    'pb-cstring-setters.sed \${BFN_P4RUNTIME_INFO_GEN_HDRS}'
  # p4c's own bug (fixed upstream by p4lang/p4c#5753, after v1.2.5.16): since
  # #5063, MatcherAllocator::bind_use keeps only the scratch registers'
  # slices of a parser select, so every select loses its match registers
  # and the emitted parser takes the first transition of every state
  # (no `match:` in the .bfa; on Tofino 2 bfas then fails). Keep the
  # ordinary registers' slices too, as #5753 does.
  edit "$d/backends/tofino/bf-p4c/parde/allocate_parser_match_register.cpp" \
    's|^\(\s*\)if (!is_scratch_register(reg_slice.first)) continue;|\1if (!is_scratch_register(reg_slice.first)) {\n\1    serializable_reg_slices.emplace_back(MatchRegister(reg_slice.first), reg_slice.second);  // p4c#5753\n\1    continue;\n\1}|' \
    'p4c#5753'
  # GCC 12's libstdc++ hands std::erase_if's predicate a const element
  # (p4c is built with GCC 13 and later upstream).
  edit "$d/ir/visitor.cpp" 's/\[this\](flow_join_points_t::value_type &el)/[this](const flow_join_points_t::value_type \&el)/' \
    '\[this\](const flow_join_points_t::value_type &el)'
  mkdir -p "$d/build" && cd "$d/build"
  run cmake .. -DCMAKE_INSTALL_PREFIX="$TOFINO_PREFIX" -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON \
    -DENABLE_TOFINO=ON -DENABLE_BMV2=OFF -DENABLE_P4TEST=OFF -DENABLE_P4FMT=OFF -DENABLE_EBPF=OFF -DENABLE_UBPF=OFF \
    -DENABLE_DPDK=OFF -DENABLE_P4TC=OFF -DENABLE_P4C_GRAPHS=OFF -DENABLE_TEST_TOOLS=OFF -DENABLE_DOCS=OFF \
    -DENABLE_GTESTS=ON -DFETCHCONTENT_SOURCE_DIR_GTEST=/usr/src/googletest \
    -DP4C_USE_PREINSTALLED_PROTOBUF=ON -DENABLE_PROTOBUF_STATIC=OFF \
    -DP4C_USE_PREINSTALLED_ABSEIL=OFF -DFETCHCONTENT_SOURCE_DIR_ABSEIL="$BUILD/abseil-p4c-tofino" \
    -DP4C_USE_PREINSTALLED_BDWGC=ON -DUSE_PREINSTALLED_Z3=ON -DENABLE_LTO=OFF \
    -DFETCHCONTENT_FULLY_DISCONNECTED=OFF \
    -DFETCHCONTENT_SOURCE_DIR_P4RUNTIME="$BUILD/p4runtime-p4c-tofino" -DPYTHON_EXECUTABLE=/usr/bin/python3
  local t
  for t in p4c-barefoot bfas bfdumpbin bfdis; do
    run nice make -j"$JOBS" "$t"
  done
  # By hand what make install would (its "all" wants the other back ends and
  # the python driver): the tools, and the P4 includes p4c-barefoot finds
  # in PREFIX/share/p4c (p4c's and the back end's, as p4c-barefoot's
  # install rules copy them; p4_14include for the P4-14 path it keeps).
  local inc=$TOFINO_PREFIX/share/p4c
  mkdir -p "$TOFINO_PREFIX/bin" "$inc"
  run install -m 755 backends/tofino/bf-p4c/p4c-barefoot "$TOFINO_PREFIX/bin/"
  run install -m 755 backends/tofino/bf-asm/bfas backends/tofino/bf-asm/bfdumpbin backends/tofino/bf-asm/bfdis "$TOFINO_PREFIX/bin/"
  run install -m 755 "$d/backends/tofino/scripts/p4c-gen-conf" "$d/backends/tofino/scripts/p4c-gen-bfrt-conf" "$TOFINO_PREFIX/bin/"
  rm -rf "$inc/p4include" "$inc/p4_14include"
  run cp -r "$d/p4include" "$inc/p4include"
  run cp -r "$d/backends/tofino/bf-p4c/p4include/." "$inc/p4include/"
  run cp -r "$d/backends/tofino/bf-p4c/p4_14include" "$inc/p4_14include"
  if [[ -d $d/p4_14include ]]; then run cp -r "$d/p4_14include/." "$inc/p4_14include/"; fi
  run "$TOFINO_PREFIX/bin/p4c-barefoot" --version
  local tool
  for tool in bfas bfdumpbin bfdis p4c-gen-conf; do run test -x "$TOFINO_PREFIX/bin/$tool"; done
}

# The smoke test: p4c compiles the program to the committed P4Info, and
# bmv2 starts and answers P4Runtime with that program pushed and read back.
smoke() {
  local out
  out=$(mktemp -d)
  run "$PREFIX/bin/p4c-bm2-ss" --arch v1model --std p4-16 -o "$out/symdist.json" \
    --p4runtime-files "$out/symdist.p4info.txtpb" "$REPO_ROOT/p4src/symdist.p4"
  if ! cmp -s "$out/symdist.p4info.txtpb" "$REPO_ROOT/p4info/symdist.p4info.txtpb"; then
    say "make toolchain: p4c compiled p4src/symdist.p4 to a P4Info other than p4info/symdist.p4info.txtpb:"
    diff "$REPO_ROOT/p4info/symdist.p4info.txtpb" "$out/symdist.p4info.txtpb" | head -20
    exit 1
  fi
  say "   p4c: p4src/symdist.p4 compiles to the committed P4Info"
  if ! command -v go >/dev/null; then
    say "   bmv2: not checked over P4Runtime (no go command)"
  else
    cd "$REPO_ROOT"
    run go run ./tools/toolchain/smoke -bmv2 "$PREFIX/bin/simple_switch_grpc"
    say "   bmv2: simple_switch_grpc took the pipeline over P4Runtime and read it back ($(tail -n 1 "$LOG"))"
    if [[ -x $PERF_PREFIX/bin/simple_switch_grpc ]]; then
      run go run ./tools/toolchain/smoke -bmv2 "$PERF_PREFIX/bin/simple_switch_grpc"
      say "   bmv2 (speed build): the same ($(tail -n 1 "$LOG"))"
    fi
  fi
  run /usr/bin/python3 "$PREFIX/ptf/ptf" --help
  say "   ptf: $PREFIX/bin/ptf runs"
  rm -rf "$out"
}

say "make toolchain: PREFIX=$PREFIX PERF_PREFIX=$PERF_PREFIX BUILD=$BUILD P4_SRC=${P4_SRC:-(upstream git)} TOFINO=$TOFINO"
if [[ $(id -u) != 0 ]]; then
  say "make toolchain: needs root (apt-get, $PREFIX, ldconfig)"
  exit 1
fi
# Before apt-get and the builds: without P4_SRC, a source step still to run
# whose clone is not in BUILD/src yet needs github.com. (Without git, which
# comes with the packages, gitdir checks before its first clone.)
all_stamped() {
  stamped PI "$PI_TAG" && stamped behavioral-model "$BMV2_TAG" && stamped p4c "$P4C_TAG" &&
    stamped ptf "$PTF_TAG" && stamped behavioral-model-speed "$BMV2_TAG" &&
    { [[ $TOFINO != 1 ]] || stamped p4c-tofino "$TOFINO_P4C_STAMP"; }
}
clones_missing() {
  local r
  for r in p4lang+PI p4lang+behavioral-model p4lang+p4c p4lang+p4runtime p4lang+ptf openconfig+gnmi \
    $([[ $TOFINO == 1 ]] && echo gabime+spdlog aromanovich+jsl abseil+abseil-cpp); do
    [[ -d $BUILD/src/$r.git ]] || return 0
  done
  return 1
}
if [[ -z $P4_SRC ]] && command -v git >/dev/null && clones_missing && ! all_stamped; then
  need_github
fi
step apt-packages "${#APT_PACKAGES[@]}-packages-v1" apt_packages
step PI "$PI_TAG" build_pi
step behavioral-model "$BMV2_TAG" build_bmv2
step p4c "$P4C_TAG" build_p4c
step ptf "$PTF_TAG" build_ptf
step behavioral-model-speed "$BMV2_TAG" build_bmv2_speed
if [[ $TOFINO == 1 ]]; then
  step p4c-tofino "$TOFINO_P4C_STAMP" build_p4c_tofino
fi
t=$(date +%s)
say "== smoke test"
smoke
say "== smoke test: passed in $(elapsed "$t")"
say "make toolchain: done in $(elapsed "$START"); tools in $PREFIX/bin (bmv2, p4c, ptf), speed bmv2 in $PERF_PREFIX/bin"
