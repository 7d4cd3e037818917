# Starts DynamoDB Local and moto (SQS) on free loopback ports, waits until both answer, and exports
# the SDK endpoint variables. stop_emulators stops exactly the processes it started, by PID.
# Sourced after scripts/lib/tools.sh.

EMULATOR_PIDS=()
EMULATOR_LOG_DIR="${TOOLS_DIR}/logs"
EMULATOR_START_SECONDS_MAX=90

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Succeeds once the endpoint answers a real API call of its service.
answers() { # url target service
  python3 - "$1" "$2" "$3" <<'PY'
import sys, urllib.request
url, target, service = sys.argv[1], sys.argv[2], sys.argv[3]
request = urllib.request.Request(url, data=b"{}", method="POST", headers={
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": target,
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=0" % service,
})
try:
    with urllib.request.urlopen(request, timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

wait_for() { # name url target service pid log
  local name="$1" url="$2" target="$3" service="$4" pid="$5" log_file="$6" waited=0
  until answers "$url" "$target" "$service"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited before answering; its log:"; cat "$log_file" >&2; return 1
    fi
    if [ "$waited" -ge $((EMULATOR_START_SECONDS_MAX * 4)) ]; then
      log "$name did not answer within ${EMULATOR_START_SECONDS_MAX}s; its log:"; cat "$log_file" >&2; return 1
    fi
    sleep 0.25; waited=$((waited + 1))
  done
  log "$name answers at $url"
}

start_emulators() {
  mkdir -p "$EMULATOR_LOG_DIR"
  local dir ddb_port sqs_port
  dir="$(dynamodb_local_dir)"
  ddb_port="$(free_port)"
  # In memory: every run starts empty, and nothing is left on disk.
  (cd "$dir" && exec java -Xms128m -Xmx1g -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -sharedDb -disableTelemetry -port "$ddb_port") >"$EMULATOR_LOG_DIR/dynamodb-local.log" 2>&1 &
  EMULATOR_PIDS+=("$!")
  local ddb_pid="$!"

  sqs_port="$(free_port)"
  "$VENV_DIR/bin/moto_server" -H 127.0.0.1 -p "$sqs_port" >"$EMULATOR_LOG_DIR/moto.log" 2>&1 &
  EMULATOR_PIDS+=("$!")
  local sqs_pid="$!"

  wait_for "DynamoDB Local" "http://127.0.0.1:$ddb_port" DynamoDB_20120810.ListTables dynamodb "$ddb_pid" "$EMULATOR_LOG_DIR/dynamodb-local.log"
  wait_for "moto (SQS)" "http://127.0.0.1:$sqs_port" AmazonSQS.ListQueues sqs "$sqs_pid" "$EMULATOR_LOG_DIR/moto.log"

  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$ddb_port"
  export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$sqs_port"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

stop_emulators() {
  local pid
  for pid in "${EMULATOR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${EMULATOR_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  EMULATOR_PIDS=()
}
