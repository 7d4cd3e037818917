# The OpenAPI file held to the server: schemathesis (pinned in scripts/tools-requirements.txt) runs
# docs/openapi.json against a fresh local runner with an account token and an operator token, and
# fails on any check (a 5xx, an undocumented status, a body or header the spec does not describe,
# valid data refused, invalid data accepted). Sourced after scripts/lib/tools.sh and runner.sh.

SCHEMA_CHECK_ACCOUNT="schema-check"
# The budget of the whole run (every phase); the examples per operation bound it too.
SCHEMA_CHECK_SECONDS_MAX="${SCHEMA_CHECK_SECONDS_MAX:-150}"

# The account the generated requests act for: a USD wallet, a routed number, the flat rate card and
# a paid purchase (which saves a card, so auto-recharge can be enabled).
seed_schema_account() { # base operator_token account_token
  local base="$1" operator="$2" account="$3" purchase url
  curl -fsS -X POST "$base/v1/operator/accounts/$SCHEMA_CHECK_ACCOUNT/wallet" -H "Authorization: Bearer $operator" \
    -H 'Content-Type: application/json' -d '{"currency": "USD"}' >/dev/null
  curl -fsS -X PUT "$base/v1/operator/accounts/$SCHEMA_CHECK_ACCOUNT/phone-numbers/106540352242922" \
    -H "Authorization: Bearer $operator" >/dev/null
  curl -fsS -X POST "$base/v1/operator/rate-cards" -H "Authorization: Bearer $operator" \
    -H 'Content-Type: application/json' -d @shared/rate-cards/zoho-flat-usd.json >/dev/null
  purchase="$(curl -fsS -X POST "$base/v1/wallet/purchases" -H "Authorization: Bearer $account" \
    -H 'Content-Type: application/json' -H 'Idempotency-Key: schema-check-seed' -d '{"credits": 50}')"
  url="$(printf '%s' "$purchase" | python3 -c 'import json,sys; print(json.load(sys.stdin)["checkout_url"])')"
  curl -fsS -X POST "$url/pay" >/dev/null
}

schema_check() {
  local dir port base operator account status=0
  dir="$(mktemp -d "${TMPDIR:-/tmp}/imcredits-schema.XXXXXX")"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  mkdir -p "$TOOLS_DIR/logs"
  start_runner "$port" "$dir/data" "$TOOLS_DIR/logs/schema-runner.log" || { rm -rf "$dir"; return 1; }
  operator="$(runner_token "$dir/data" --operator)"
  account="$(runner_token "$dir/data" --account "$SCHEMA_CHECK_ACCOUNT")"
  seed_schema_account "$base" "$operator" "$account" || status=$?
  if [ "$status" -eq 0 ]; then
    SCHEMA_CHECK_BASE_URL="$base" SCHEMA_CHECK_OPERATOR_TOKEN="$operator" SCHEMA_CHECK_ACCOUNT_TOKEN="$account" \
      "$VENV_DIR/bin/schemathesis" --config-file scripts/schemathesis.toml run docs/openapi.json \
      --max-time "$SCHEMA_CHECK_SECONDS_MAX" --no-color --report junit \
      --report-dir "$TOOLS_DIR/logs/schemathesis" "$@" || status=$?
  fi
  stop_runner
  rm -rf "$dir"
  return "$status"
}
