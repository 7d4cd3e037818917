# Starts the local runner the way the README does (its `serve` command on a loopback port, a data
# dir of its own) and stops exactly the process it started. Sourced after scripts/lib/tools.sh.
# The one place a script starts the runner: when the runner's command line changes, change it here.

RUNNER_PID=""
RUNNER_START_SECONDS_MAX=120

# The runner's binary in the workspace's dev profile (the one `cargo test` builds), built if needed.
runner_bin() {
  cargo build -q --locked -p imcredits-local >&2 || return 1
  local target
  target="$(cargo metadata -q --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  printf '%s/debug/imcredits-local' "$target"
}

start_runner() { # port data_dir log_file -> RUNNER_BIN, RUNNER_PID
  local port="$1" data_dir="$2" log_file="$3" waited=0
  RUNNER_BIN="$(runner_bin)" || return 1
  "$RUNNER_BIN" serve --port "$port" --data-dir "$data_dir" --payments fake >"$log_file" 2>&1 &
  RUNNER_PID="$!"
  until grep -q "listening on http://127.0.0.1:$port" "$log_file" 2>/dev/null; do
    if ! kill -0 "$RUNNER_PID" 2>/dev/null; then
      log "the runner exited before listening; its log:"; cat "$log_file" >&2; return 1
    fi
    if [ "$waited" -ge $((RUNNER_START_SECONDS_MAX * 4)) ]; then
      log "the runner did not listen within ${RUNNER_START_SECONDS_MAX}s"; return 1
    fi
    sleep 0.25; waited=$((waited + 1))
  done
}

# A token the runner accepts: `runner_token --operator` or `runner_token --account ID`.
runner_token() { # data_dir flags...
  local data_dir="$1"; shift
  "$RUNNER_BIN" token "$@" --data-dir "$data_dir"
}

stop_runner() {
  [ -n "$RUNNER_PID" ] || return 0
  kill -INT "$RUNNER_PID" 2>/dev/null || true
  wait "$RUNNER_PID" 2>/dev/null || true
  RUNNER_PID=""
}
