#!/usr/bin/env bash
# Build Orchestray's Linux onedir with PyInstaller and prove the frozen program works.
#
#   bash packaging/build-linux.sh            # from any folder, with the virtualenv that has Orchestray's deps
#
# 1. installs PyInstaller (pinned) into the current Python environment;
# 2. builds packaging/orchestray-linux.spec into dist/orchestray/ (work files in build/pyinstaller/);
# 3. runs the frozen `orchestray self-test --report dist/orchestray-selftest.json` (under a display when there
#    is one: $DISPLAY, else xvfb-run if installed) and fails unless the report passed, the tray backend
#    imported (when a display was available), plyer's Linux backend and dbus were bundled;
# 4. runs the frozen `orchestray hook prompt` and `orchestray-hook hook prompt` (the small program the installed
#    hooks run) with garbage on stdin: each must exit 0 and print nothing;
# 5. prints the build time, the size and the start time of `orchestray --version`, then the line
#    ORCHESTRAY_FROZEN=<absolute path of the binary>   (export it for tests/e2e/test_frozen.py).
#    `python bench/frozen_hook.py` then compares orchestray-hook's start with a minimal PyInstaller program.
#
# Environment: PYTHON (default: python3 on PATH, i.e. the active virtualenv's), PYINSTALLER_VERSION,
# HOOKS_CONTRIB_VERSION (pins), ORCHESTRAY_NO_PIP=1 to use the PyInstaller already installed.
# Needs objdump (binutils) and the app's dependencies: pip install -e ".[linux]" (see scripts/install-linux-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PYTHON=${PYTHON:-python3}
PYINSTALLER_VERSION=${PYINSTALLER_VERSION:-6.22.3}
HOOKS_CONTRIB_VERSION=${HOOKS_CONTRIB_VERSION:-2026.9}
binary="$root/dist/orchestray/orchestray"
hook_binary="$root/dist/orchestray/orchestray-hook"  # the small program the installed hooks run
report="$root/dist/orchestray-selftest.json"

say() { echo "build-linux: $*"; }
die() { echo "build-linux: FAILED: $*" >&2; exit 1; }

command -v objdump >/dev/null || die "objdump not found (apt-get install binutils)"
# find_spec, not import: importing pystray without a display raises.
"$PYTHON" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in
    ('pystray', 'PIL', 'psutil', 'platformdirs', 'plyer', 'gi', 'dbus')))" \
  || die "$PYTHON lacks Orchestray's dependencies: run  $PYTHON -m pip install -e '.[linux]'"

if [ "${ORCHESTRAY_NO_PIP:-}" != 1 ]; then
  say "installing pyinstaller==$PYINSTALLER_VERSION pyinstaller-hooks-contrib==$HOOKS_CONTRIB_VERSION"
  "$PYTHON" -m pip install -q "pyinstaller==$PYINSTALLER_VERSION" "pyinstaller-hooks-contrib==$HOOKS_CONTRIB_VERSION"
fi

say "building packaging/orchestray-linux.spec"
start=$("$PYTHON" -c 'import time; print(time.time())')
# Without a display, pystray's contrib hook cannot list pystray's submodules (harmless: common.py names them).
"$PYTHON" -m PyInstaller --clean --noconfirm --log-level WARN \
  --distpath "$root/dist" --workpath "$root/build/pyinstaller" packaging/orchestray-linux.spec
build_seconds=$("$PYTHON" -c "import time; print(f'{time.time() - $start:.1f}')")
[ -x "$binary" ] || die "$binary was not built"
[ -x "$hook_binary" ] || die "$hook_binary was not built"

display_runner=()
if [ -n "${DISPLAY:-}" ]; then
  say "self-test on DISPLAY=$DISPLAY"
elif command -v xvfb-run >/dev/null; then
  say "self-test under xvfb-run"
  display_runner=(xvfb-run -a)
else
  say "self-test without a display (the tray backend import is then skipped; tests/e2e/test_frozen.py runs it)"
fi
rm -f "$report"
status=0
"${display_runner[@]}" "$binary" self-test --report "$report" || status=$?
[ -f "$report" ] || die "the self-test wrote no report (exit $status)"
"$PYTHON" - "$report" "$status" "${#display_runner[@]}${DISPLAY:+d}" <<'EOF' || die "self-test report: see $report"
import json, sys
report = json.load(open(sys.argv[1]))
status, had_display = int(sys.argv[2]), sys.argv[3] != "0"
checks = report["checks"]
problems = []
if not report["passed"] or status != 0:
    problems.append(f"self-test failed (exit {status}): {report['failed']}")
if not report["frozen"]:
    problems.append("the report does not come from a frozen program")
if had_display and not checks["tray_backend"]["ok"]:
    problems.append(f"tray backend: {checks['tray_backend'].get('error')}")
if not checks["dbus"]["ok"]:
    problems.append(f"dbus not bundled: {checks['dbus'].get('error')}")
if "implementation" not in checks["notifications"]["detail"].get("plyer", {}):
    problems.append(f"plyer backend: {checks['notifications']['detail'].get('plyer')}")
for problem in problems:
    print("  " + problem, file=sys.stderr)
backend = checks["tray_backend"]["detail"].get("backend", "skipped (no display)")
print(f"build-linux: self-test passed={report['passed']} tray backend={backend} "
      f"notifications={checks['notifications']['detail']['chain']}")
sys.exit(1 if problems else 0)
EOF

for program in "$binary" "$hook_binary"; do
  say "$(basename "$program") hook prompt with garbage on stdin"
  hook_out=$(printf 'not json {{{' | env -u CLAUDE_CODE_SESSION_ID \
    ORCHESTRAY_REGISTRY_DIR="$root/build/pyinstaller/hook-registry" \
    ORCHESTRAY_LOG_DIR="$root/build/pyinstaller/hook-log" "$program" hook prompt) || die "hook prompt exited $?"
  [ -z "$hook_out" ] || die "hook prompt printed: $hook_out"
done

size=$(du -sh "$root/dist/orchestray" | cut -f1)
start_time=$("$PYTHON" - "$binary" <<'EOF'
import statistics, subprocess, sys, time
runs = []
for _ in range(7):
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "--version"], check=True, stdout=subprocess.DEVNULL)
    runs.append(time.perf_counter() - t)
print(f"median {statistics.median(runs):.3f} s, best {min(runs):.3f} s")
EOF
)
say "build ${build_seconds} s; dist/orchestray ${size}; 'orchestray --version' ${start_time}"
echo "ORCHESTRAY_FROZEN=$binary"
