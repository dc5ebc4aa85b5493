#!/usr/bin/env bash
# Starts the storage emulators the provider plugins' tests run against, on free loopback ports:
# moto's server (AWS Parameter Store and Secrets Manager) and Azurite's Table service.
#
#   source .ci/emulators.sh         # start both, export the variables below into this shell,
#                                   # and stop both when this shell exits (an EXIT trap)
#   bash .ci/emulators.sh FILE      # start both, leave them running, write `export` lines to
#                                   # FILE (stdout without FILE); CM_EMULATOR_PIDS says what
#                                   # to kill when done
#
# Exported: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
# AZURE_STORAGE_CONNECTION_STRING, CM_EMULATOR_PIDS.
#
# Installs what is missing first, idempotently: moto with its server from PyPI, Azurite from
# npm into .ci/node_modules (git-ignored). Safe under `set -euo pipefail`; when sourced it
# returns non-zero instead of exiting if an emulator does not come up.

cm_emulators_main() {
  local ci logs
  ci="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  logs="${CM_EMULATOR_LOGS:-${TMPDIR:-/tmp}/cm-emulators.$$}"
  mkdir -p "$logs"

  if ! python3 -c 'import moto.server, flask' 2>/dev/null; then
    echo "emulators: installing moto[server] from PyPI" >&2
    python3 -m pip install -q 'moto[server]>=5.0.3' >&2 || return 1
  fi
  local azurite="$ci/node_modules/.bin/azurite-table"
  if [[ ! -x "$azurite" ]]; then
    echo "emulators: installing Azurite from npm into .ci/node_modules" >&2
    npm install --prefix "$ci" --no-save --no-package-lock --no-audit --no-fund \
      --loglevel=error 'azurite@^3.35.0' >&2 || return 1
  fi

  local moto_port table_port
  moto_port="$(cm_emulators_free_port)" || return 1
  table_port="$(cm_emulators_free_port)" || return 1

  # setsid: the emulators get their own process groups, so a stop reaches their children too.
  setsid python3 -m moto.server -H 127.0.0.1 -p "$moto_port" >"$logs/moto.log" 2>&1 </dev/null &
  local moto_pid=$!
  setsid "$azurite" --tableHost 127.0.0.1 --tablePort "$table_port" --inMemoryPersistence \
    --disableTelemetry --skipApiVersionCheck --disableProductStyleUrl --silent \
    >"$logs/azurite.log" 2>&1 </dev/null &
  local table_pid=$!
  CM_EMULATOR_PIDS="$moto_pid $table_pid"

  if ! cm_emulators_wait "$moto_port" "$moto_pid" "$logs/moto.log" ||
    ! cm_emulators_wait "$table_port" "$table_pid" "$logs/azurite.log"; then
    cm_emulators_stop
    return 1
  fi

  AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
  AWS_ACCESS_KEY_ID=test
  AWS_SECRET_ACCESS_KEY=test
  AWS_REGION=us-east-1
  # Azurite's documented development account; its key is public, not a secret.
  AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:$table_port/devstoreaccount1;"
  echo "emulators: moto at $AWS_ENDPOINT_URL, Azurite Tables at 127.0.0.1:$table_port (logs in $logs)" >&2
}

cm_emulators_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 60 s for the process to accept connections on the port.
cm_emulators_wait() {
  local port=$1 pid=$2 log=$3 i
  for ((i = 0; i < 600; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "emulators: nothing answers on port $port; its log:" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

cm_emulators_stop() {
  local pid
  for pid in ${CM_EMULATOR_PIDS:-}; do
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
}

cm_emulators_exports() {
  local v
  for v in AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION \
    AZURE_STORAGE_CONNECTION_STRING CM_EMULATOR_PIDS; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: export into the caller's shell and stop the emulators when it exits.
  if cm_emulators_main; then
    export AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION \
      AZURE_STORAGE_CONNECTION_STRING CM_EMULATOR_PIDS
    trap cm_emulators_stop EXIT
  else
    echo "emulators: failed to start" >&2
    false
  fi
else
  set -euo pipefail
  cm_emulators_main
  if [[ $# -ge 1 ]]; then
    cm_emulators_exports >"$1"
  else
    cm_emulators_exports
  fi
fi
