#!/usr/bin/env bash
# Regenerates captures/: golden capture files of real IMDS clients talking to the fake IMDS
# (test/fake-imds/fake-imds.mjs), recorded by real capture tools (tcpdump, dumpcap), each with a
# NAME.expected.json derived from the fake IMDS's ground-truth log (never written by hand), plus
# captures/README.md.
#
# SAFETY: every packet to an IMDS address stays inside two network namespaces this script
# creates: "instance" (169.254.169.254 and fd00:ec2::254 on its own lo, where the fake IMDS,
# the capture tools and most clients run) and "container" (joined to "instance" by a veth pair).
# Nothing is run against IMDS addresses in the machine's own namespace, where the real metadata
# service answers. Both namespaces are deleted on exit, also on failure.
#
# Usage (as root, from anywhere): bash scripts/make-captures.sh [SCENARIO...]
# With scenario names (the scenario_* functions without the prefix, e.g. "snaplen"), only those
# captures are made again and replace their files; README.md is rewritten from every expected file.
# Overrides: AWS_CLI_V1 (default /root/.pyenv/shims/aws), AWS_CLI_V2 (default /usr/bin/aws),
# PYENV_ROOT (default /root/.pyenv).
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
readonly CAPTURES=$REPO/captures
# Files are made here first and replace captures/ only when every scenario has passed.
STAGING=
readonly FAKE_IMDS=test/fake-imds/fake-imds.mjs
readonly JS_CLIENT=test/fake-imds/clients/js-sdk-credentials.mjs
readonly WRITE_EXPECTED=test/fake-imds/write-expected.mjs
readonly WRITE_README=test/fake-imds/write-readme.mjs
PYENV_ROOT=${PYENV_ROOT:-/root/.pyenv}
readonly AWS_CLI_V1=${AWS_CLI_V1:-/root/.pyenv/shims/aws}
readonly AWS_CLI_V2=${AWS_CLI_V2:-/usr/bin/aws}

readonly NS_INSTANCE=imdscap-inst-$$
readonly NS_CONTAINER=imdscap-ctr-$$
readonly VETH_HOST=veth-ctr0
readonly INSTANCE_IPV4=10.0.0.10
readonly INSTANCE_IPV6=2001:db8:77::10
readonly CONTAINER_GATEWAY=10.77.0.1
readonly CONTAINER_IPV4=10.77.0.2
readonly BACKGROUND_PORT=8080
# tcpdump/dumpcap are stopped this long after the last packet we care about, so FINs and the
# last ACKs make it into the file.
readonly SETTLE_SECONDS=0.3
readonly CLIENT_TIMEOUT_SECONDS=60
readonly IMDS_FILTER='http.request && tcp.dstport==80 && (ip.dst==169.254.169.254 || ipv6.dst==fd00:ec2::254)'
readonly IMDS_DATA_TO_SERVER='tcp.dstport==80 && tcp.len > 0 && (ip.dst==169.254.169.254 || ipv6.dst==fd00:ec2::254)'

log() { printf 'make-captures: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Prerequisites
# ---------------------------------------------------------------------------------------------
check_prerequisites() {
  [[ $(id -u) -eq 0 ]] || die "run as root (network namespaces and packet capture need it)"
  local tool
  for tool in ip node tcpdump dumpcap tshark curl wget timeout; do
    command -v "$tool" >/dev/null || die "missing tool: $tool (apt-get install iproute2 tcpdump tshark curl wget coreutils; node >= 20)"
  done
  [[ -x $AWS_CLI_V1 ]] || die "AWS CLI v1 not found at $AWS_CLI_V1 (pip install awscli, or set AWS_CLI_V1)"
  [[ -x $AWS_CLI_V2 ]] || die "AWS CLI v2 not found at $AWS_CLI_V2 (apt-get install awscli on Debian 12, or set AWS_CLI_V2)"
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  ((node_major >= 20)) || die "node >= 20 needed, found $(node --version)"
  [[ -d $REPO/node_modules/@aws-sdk/credential-provider-imds && -d $REPO/node_modules/@smithy/credential-provider-imds ]] ||
    die "JS SDK packages missing: run npm ci in $REPO"
  PYTHON=$(env PYENV_ROOT="$PYENV_ROOT" python3 -c 'import sys; print(sys.executable)') || die "python3 not found"
  readonly PYTHON
  "$PYTHON" -c 'import botocore, boto3' 2>/dev/null || die "$PYTHON cannot import botocore and boto3 (pip install boto3)"
  ip netns list >/dev/null 2>&1 || die "'ip netns' does not work here"
}

# ---------------------------------------------------------------------------------------------
# Processes we start, namespaces, cleanup
# ---------------------------------------------------------------------------------------------
STARTED_PIDS=()
WORK=

forget_pid() {
  local pid=$1 kept=() p
  for p in "${STARTED_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  STARTED_PIDS=("${kept[@]}")
}

cleanup() {
  local status=$? pid
  for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$NS_CONTAINER" 2>/dev/null || true
  ip netns del "$NS_INSTANCE" 2>/dev/null || true
  [[ -n $WORK ]] && rm -rf -- "$WORK"
  exit "$status"
}

# The only way this script enters a namespace: by role name, never by a name from elsewhere.
netns_of() {
  case $1 in
    instance) printf '%s' "$NS_INSTANCE" ;;
    container) printf '%s' "$NS_CONTAINER" ;;
    *) die "unknown namespace role: $1" ;;
  esac
}
in_ns() {
  local netns
  netns=$(netns_of "$1")
  shift
  ip netns exec "$netns" "$@"
}
# spawn ROLE STDOUT STDERR COMMAND...: starts COMMAND in the background inside a namespace and
# sets SPAWNED_PID to its own pid (ip netns exec execs the command: no shell in between, so
# signals reach it).
SPAWNED_PID=
spawn() {
  local netns out=$2 err=$3
  netns=$(netns_of "$1")
  shift 3
  ip netns exec "$netns" "$@" >"$out" 2>"$err" &
  SPAWNED_PID=$!
  STARTED_PIDS+=("$SPAWNED_PID")
}

# wait_for_text FILE TEXT PID WHAT: bounded wait until a started process says it is ready.
wait_for_text() {
  local file=$1 text=$2 pid=$3 what=$4 tries
  for ((tries = 0; tries < 200; tries++)); do
    grep -q -- "$text" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited before it was ready: $(cat "$file" 2>/dev/null)"
    sleep 0.05
  done
  die "$what not ready after 10 s: $(cat "$file")"
}

setup_namespaces() {
  ip netns add "$NS_INSTANCE"
  ip netns add "$NS_CONTAINER"
  # The instance: its own private address, the two IMDS addresses, realistic segmentation.
  in_ns instance ip link set lo mtu 1500 up
  in_ns instance ip addr add "$INSTANCE_IPV4/32" dev lo
  in_ns instance ip addr add 169.254.169.254/32 dev lo
  in_ns instance ip -6 addr add "$INSTANCE_IPV6/128" dev lo nodad
  in_ns instance ip -6 addr add fd00:ec2::254/128 dev lo nodad
  # Clients would use the IMDS address itself as source (it is local); make them use the
  # instance's address, as on a real instance.
  in_ns instance ip route replace local 169.254.169.254 dev lo table local proto kernel scope host src "$INSTANCE_IPV4"
  in_ns instance ip -6 route del local fd00:ec2::254 dev lo table local
  in_ns instance ip -6 route add local fd00:ec2::254 dev lo table local proto kernel src "$INSTANCE_IPV6"
  [[ $(in_ns instance ip route get 169.254.169.254) == *"src $INSTANCE_IPV4"* ]] || die "IPv4 source address setup failed"
  [[ $(in_ns instance ip -6 route get fd00:ec2::254) == *"src $INSTANCE_IPV6"* ]] || die "IPv6 source address setup failed"
  # TCP Fast Open for one curl call: client and server, data in the SYN without a cookie, on
  # every listener (0x1 | 0x2 | 0x4 | 0x200 | 0x400). Per namespace: the host is not touched.
  in_ns instance sysctl -qw net.ipv4.tcp_fastopen=1543
  # The container: a veth pair with fixed MACs (real Ethernet headers in one capture).
  in_ns instance ip link add "$VETH_HOST" type veth peer name eth0 netns "$NS_CONTAINER"
  in_ns instance ip link set "$VETH_HOST" address 02:42:0a:4d:00:01
  in_ns container ip link set eth0 address 02:42:0a:4d:00:02
  in_ns instance ip addr add "$CONTAINER_GATEWAY/24" dev "$VETH_HOST"
  in_ns container ip addr add "$CONTAINER_IPV4/24" dev eth0
  in_ns instance ip link set "$VETH_HOST" up
  in_ns container ip link set lo up
  in_ns container ip link set eth0 up
  in_ns container ip route add 169.254.169.254/32 via "$CONTAINER_GATEWAY" dev eth0
}

# A web server for background traffic, on every address of the instance (IPv4 and IPv6), port
# 8080: HTTP that is not IMDS, including to 169.254.169.254:8080.
start_background_server() {
  mkdir -p "$WORK/www/latest/meta-data" "$WORK/www/latest/api"
  printf 'background page\n' >"$WORK/www/index.html"
  printf 'not-imds\n' >"$WORK/www/latest/meta-data/instance-id"
  spawn instance "$WORK/background-server.out" "$WORK/background-server.err" \
    "$PYTHON" -u -m http.server --bind :: --directory "$WORK/www" "$BACKGROUND_PORT"
  wait_for_text "$WORK/background-server.out" "Serving HTTP" "$SPAWNED_PID" "background web server"
}

# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------
# Clients run with a clean environment: no AWS_* credentials, a temporary HOME without ~/.aws,
# the region set (a snippet unsets it when it wants the region lookup).
client_env() {
  printf '%s\0' env -i "PATH=$PYENV_ROOT/shims:$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" \
    "PYENV_ROOT=$PYENV_ROOT" "HOME=$WORK/home" "LANG=C.UTF-8" "AWS_PAGER=" \
    "AWS_CONFIG_FILE=$WORK/home/.aws/config" "AWS_SHARED_CREDENTIALS_FILE=$WORK/home/.aws/credentials" \
    "AWS_DEFAULT_REGION=us-east-1" "AWS_REGION=us-east-1"
}
readonly CLIENT_ENV_TEXT='env -i PATH=... HOME=<empty temp dir> AWS_CONFIG_FILE=<absent> AWS_SHARED_CREDENTIALS_FILE=<absent> AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_PAGER='

SCENARIO=
begin_scenario() {
  SCENARIO=$1
  SCENARIO_MODE=$2
  SCENARIO_CAPTURE_KIND=$3
  SCENARIO_DESCRIPTION=$4
  SCENARIO_BACKGROUND=$5
  SCENARIO_FILE=$STAGING/$SCENARIO
  SCENARIO_SNAPLEN=
  SCENARIO_LOG=$WORK/$SCENARIO.imds.ndjson
  SCENARIO_CLIENTS=$WORK/$SCENARIO.clients.txt
  SCENARIO_OUTPUT=$WORK/$SCENARIO.client-output.txt
  : >"$SCENARIO_CLIENTS"
  : >"$SCENARIO_OUTPUT"
  log "$SCENARIO: fake IMDS in mode $SCENARIO_MODE, capture $SCENARIO_CAPTURE_KIND, background $SCENARIO_BACKGROUND"

  spawn instance "$WORK/$SCENARIO.imds.out" "$WORK/$SCENARIO.imds.err" node "$FAKE_IMDS" --mode "$SCENARIO_MODE" --log "$SCENARIO_LOG"
  IMDS_PID=$SPAWNED_PID
  wait_for_text "$WORK/$SCENARIO.imds.out" ready "$IMDS_PID" "fake IMDS"

  local name=${SCENARIO_FILE##*/} capture_args ready_text
  case $SCENARIO_CAPTURE_KIND in
    tcpdump-lo) capture_args=(tcpdump -i lo) ;;
    tcpdump-any) capture_args=(tcpdump -i any) ;;
    tcpdump-any-nano) capture_args=(tcpdump -i any --time-stamp-precision nano) ;;
    tcpdump-any-sll) capture_args=(tcpdump -i any -y LINUX_SLL) ;;
    tcpdump-veth) capture_args=(tcpdump -i "$VETH_HOST") ;;
    tcpdump-lo-s96)
      # An old runbook's small snapshot length: request lines, no headers.
      SCENARIO_SNAPLEN=96
      capture_args=(tcpdump -i lo -s "$SCENARIO_SNAPLEN")
      ;;
    dumpcap-any) capture_args=(dumpcap -i any -q) ;;
    dumpcap-lo-veth) capture_args=(dumpcap -i lo -i "$VETH_HOST" -q) ;;
    *) die "unknown capture kind $SCENARIO_CAPTURE_KIND" ;;
  esac
  if [[ ${capture_args[0]} == tcpdump ]]; then
    # -U/--immediate-mode: no packet waits in a buffer; -Z root: write the file as root.
    # -B 16384: on "any", immediate mode with the default 2 MiB buffer and 256 KiB snaplen drops
    # bursts of loopback packets ("N packets dropped by kernel"); a 16 MiB buffer does not.
    capture_args+=(-U --immediate-mode -B 16384 -Z root)
    ready_text="listening on"
  else
    ready_text="Capturing on"
  fi
  SCENARIO_CAPTURE_COMMAND="${capture_args[*]} -w $name (inside the instance namespace; stopped with SIGINT ${SETTLE_SECONDS} s after the last client)"
  spawn instance /dev/null "$WORK/$SCENARIO.capture.err" "${capture_args[@]}" -w "$SCENARIO_FILE"
  CAPTURE_PID=$SPAWNED_PID
  wait_for_text "$WORK/$SCENARIO.capture.err" "$ready_text" "$CAPTURE_PID" "${capture_args[0]}"

  start_background_traffic "$SCENARIO_BACKGROUND"
}

# Bounded loops of traffic that is not an IMDS call, running while the clients run.
BACKGROUND_PID=
BACKGROUND_TEXT=
start_background_traffic() {
  local variant=$1 stop=$WORK/$SCENARIO.stop-background role=instance extra='' target=127.0.0.1
  BACKGROUND_PID=
  BACKGROUND_TEXT=
  [[ $variant == none ]] && return 0
  case $variant in
    v4) ;;
    v6)
      extra='curl -s -o /dev/null --max-time 2 -g "http://[fd00:ec2::254]:8080/latest/meta-data/instance-id"
        curl -s -o /dev/null --max-time 2 -g "http://[::1]:8080/index.html"
        echo "background datagram $i" > /dev/udp/fd00:ec2::254/5514'
      ;;
    container)
      role=container
      target=$CONTAINER_GATEWAY
      ;;
    *) die "unknown background variant $variant" ;;
  esac
  # Port 8080 of 169.254.169.254 is not IMDS, whatever the request looks like.
  local loop='for i in $(seq 1 60); do
      [ -e "$STOP" ] && break
      curl -s -o /dev/null --max-time 2 "http://$TARGET:8080/index.html?x-aws-ec2-metadata-token=$i"
      curl -s -o /dev/null --max-time 2 -H "X-aws-ec2-metadata-token: background-not-imds" http://169.254.169.254:8080/latest/meta-data/instance-id
      curl -s -o /dev/null --max-time 2 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" "http://$TARGET:8080/latest/api/token"
      echo "background datagram $i" > "/dev/udp/$TARGET/5514"
      '"$extra"'
      sleep 0.2
    done'
  spawn "$role" /dev/null /dev/null env -i PATH=/usr/bin:/bin STOP="$stop" TARGET="$target" timeout 30 bash -c "$loop"
  BACKGROUND_PID=$SPAWNED_PID
  BACKGROUND_TEXT="bounded loop (<= 60 rounds, 0.2 s apart, stopped after the last client) in the $role namespace: curl http://$target:8080/index.html?x-aws-ec2-metadata-token=N (a web server, not IMDS); curl -H 'X-aws-ec2-metadata-token: background-not-imds' http://169.254.169.254:8080/... (IMDS address, port 8080: not IMDS); curl -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' http://$target:8080/latest/api/token; a UDP datagram to $target:5514 (no listener)"
  [[ $variant == v6 ]] && BACKGROUND_TEXT+="; the same over IPv6: curl -g http://[fd00:ec2::254]:8080/..., http://[::1]:8080/, UDP to [fd00:ec2::254]:5514"
  # Let the loop get going so the first IMDS client overlaps with it.
  sleep 0.3
}

# client ROLE SNIPPET: one IMDS client, run to completion before the next one starts (so the
# server's order is the capture's order). The snippet is recorded as is in madeWith: token values
# stay in shell variables, never in the recorded text.
client() {
  local role=$1 snippet=$2 env_args=()
  netns_of "$role" >/dev/null
  printf '%s$ %s\n' "$role" "$snippet" >>"$SCENARIO_CLIENTS"
  mapfile -d '' env_args < <(client_env)
  mkdir -p "$WORK/home"
  if ! timeout "$CLIENT_TIMEOUT_SECONDS" ip netns exec "$(netns_of "$role")" "${env_args[@]}" \
    bash -euo pipefail -c "$snippet" >>"$SCENARIO_OUTPUT" 2>&1; then
    log "client output:"
    tail -n 20 "$SCENARIO_OUTPUT" >&2
    die "$SCENARIO: client failed: $snippet"
  fi
}

# end_scenario EXPECTED_SIGNATURES: stop everything, write the expected file, cross-check with
# tshark.
end_scenario() {
  local expect=$1
  if [[ -n $BACKGROUND_PID ]]; then
    touch "$WORK/$SCENARIO.stop-background"
    wait "$BACKGROUND_PID" || true
    forget_pid "$BACKGROUND_PID"
  fi
  sleep "$SETTLE_SECONDS"
  kill -INT "$CAPTURE_PID"
  wait "$CAPTURE_PID" || die "$SCENARIO: capture tool failed: $(cat "$WORK/$SCENARIO.capture.err")"
  forget_pid "$CAPTURE_PID"
  # A capture with holes is no golden file.
  if grep -E -q '[1-9][0-9]* packets? dropped by kernel|/[1-9][0-9]* \(pcap' "$WORK/$SCENARIO.capture.err"; then
    die "$SCENARIO: the capture tool dropped packets: $(cat "$WORK/$SCENARIO.capture.err")"
  fi
  kill -TERM "$IMDS_PID"
  wait "$IMDS_PID" || die "$SCENARIO: fake IMDS exited with an error: $(cat "$WORK/$SCENARIO.imds.err")"
  forget_pid "$IMDS_PID"

  local snaplen_args=()
  [[ -n $SCENARIO_SNAPLEN ]] && snaplen_args=(--snaplen "$SCENARIO_SNAPLEN")
  node "$WRITE_EXPECTED" --log "$SCENARIO_LOG" --capture "$SCENARIO_FILE" "${snaplen_args[@]}" \
    --out "${SCENARIO_FILE%.*}.expected.json" \
    --description "$SCENARIO_DESCRIPTION" \
    --imds-mode "$SCENARIO_MODE" \
    --capture-command "$SCENARIO_CAPTURE_COMMAND" \
    --imds-command "node $FAKE_IMDS --mode $SCENARIO_MODE --log <ground truth> (inside the instance namespace, on 169.254.169.254:80 and [fd00:ec2::254]:80)" \
    --clients "$SCENARIO_CLIENTS" \
    --background "${BACKGROUND_TEXT:-none}" \
    --expect "$expect" >&2 || die "$SCENARIO: the ground truth does not match what the scenario expects"

  # Independent check: tshark must find as many IMDS requests in the capture as the server got.
  local seen wanted
  wanted=$(wc -l <"$SCENARIO_LOG")
  if [[ -z $SCENARIO_SNAPLEN ]]; then
    seen=$(tshark -r "$SCENARIO_FILE" -o tcp.reassemble_out_of_order:TRUE -Y "$IMDS_FILTER" \
      -T fields -e http.request.method 2>/dev/null | tr ',' '\n' | grep -c . || true)
    [[ $seen -eq $wanted ]] || die "$SCENARIO: tshark sees $seen IMDS requests in the capture, the fake IMDS logged $wanted"
  else
    # Cut requests are no HTTP requests to tshark: count the client's data segments to IMDS,
    # each cut at the snaplen (every request here is one segment, sent after the last answer).
    seen=$(tshark -r "$SCENARIO_FILE" -Y "$IMDS_DATA_TO_SERVER && frame.cap_len == $SCENARIO_SNAPLEN && frame.len > $SCENARIO_SNAPLEN" \
      -T fields -e frame.number 2>/dev/null | grep -c . || true)
    [[ $seen -eq $wanted ]] || die "$SCENARIO: tshark sees $seen cut request segments to IMDS, the fake IMDS logged $wanted requests"
  fi
  local size
  size=$(stat -c %s "$SCENARIO_FILE")
  ((size < 1000000)) || die "$SCENARIO: capture is $size bytes (limit 1 MB)"
}

readonly IMDS=http://169.254.169.254
readonly PUT_TOKEN='curl -sS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" http://169.254.169.254/latest/api/token'

scenario_curl() {
  begin_scenario curl-v1-v2-lo.pcap optional tcpdump-lo \
    "curl 7.88 one-shot calls: IMDSv1 GETs, token PUT + v2 GETs (also with the ec2-metadata header style, no space after the colon), a v1 GET whose URL contains the token header's name, a token PUT with X-Forwarded-For (403), a token PUT without TTL (400), a v2 GET with a wrong token (401), a v1 GET sent with TCP Fast Open (request in the SYN)." v4
  client instance "curl -sS -o /dev/null $IMDS/latest/meta-data/instance-id"
  client instance "TOKEN=\$($PUT_TOKEN) && curl -sS -o /dev/null -H \"X-aws-ec2-metadata-token: \$TOKEN\" $IMDS/latest/meta-data/iam/security-credentials/"
  client instance "TOKEN=\$(curl -sS -X PUT -H \"X-aws-ec2-metadata-token-ttl-seconds:900\" $IMDS/latest/api/token) && curl -sS -o /dev/null -H \"X-aws-ec2-metadata-token:\$TOKEN\" $IMDS/latest/meta-data/placement/availability-zone"
  client instance "curl -sS -o /dev/null '$IMDS/latest/meta-data/ami-id?x-aws-ec2-metadata-token=AQAEAinthequery'"
  client instance "curl -sS -o /dev/null -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' -H 'X-Forwarded-For: 203.0.113.7' $IMDS/latest/api/token"
  client instance "curl -sS -o /dev/null -X PUT $IMDS/latest/api/token"
  client instance "curl -sS -o /dev/null -H 'X-aws-ec2-metadata-token: AQAEAnot-a-valid-token==' $IMDS/latest/meta-data/instance-id"
  client instance "curl -sS -o /dev/null --tcp-fastopen $IMDS/latest/meta-data/hostname"
  end_scenario "v1:200:curl token-request:200:curl v2:200:curl token-request:200:curl v2:200:curl v1:200:curl token-request:403:curl token-request:400:curl v2:401:curl v1:200:curl"
}

scenario_wget() {
  begin_scenario wget-v1-v2-any-nano.pcap optional tcpdump-any-nano \
    "wget 1.21 one-shot calls: an IMDSv1 GET, a token PUT + v2 GET of the role credentials, a v1 GET of a missing path (404)." v4
  client instance "wget -q -O /dev/null $IMDS/latest/meta-data/instance-id"
  client instance "TOKEN=\$(wget -q -O - --method=PUT --header='X-aws-ec2-metadata-token-ttl-seconds: 21600' $IMDS/latest/api/token) && wget -q -O /dev/null --header=\"X-aws-ec2-metadata-token: \$TOKEN\" $IMDS/latest/meta-data/iam/security-credentials/imds-analyzer-test-role"
  client instance "wget -q -O /dev/null $IMDS/latest/meta-data/no-such-item || test \$? -eq 8"
  end_scenario "v1:200:Wget token-request:200:Wget v2:200:Wget v1:404:Wget"
}

scenario_urllib() {
  begin_scenario python-urllib-v1-any-sll.pcap optional tcpdump-any-sll \
    "A plain Python 3.11 script with urllib.request: IMDSv1 only, including the role credentials, the identity document and user-data, and one 404." v4
  client instance "$PYTHON scripts/clients/urllib_v1.py"
  end_scenario "v1:200:Python-urllib*6 v1:404:Python-urllib"
}

scenario_awscli1_v2() {
  begin_scenario awscli1-token-v2-lo.pcap optional tcpdump-lo \
    "AWS CLI v1 (pip) and botocore's InstanceMetadataFetcher used directly get instance-role credentials with IMDSv2: token PUT (TTL 21600), then v2 GETs of the role list and the role. No background traffic." none
  client instance "$AWS_CLI_V1 configure list | grep 'access_key .*iam-role' >/dev/null"
  client instance "$PYTHON -c 'from botocore.utils import InstanceMetadataFetcher as F; c = F(timeout=1, num_attempts=1).retrieve_iam_role_credentials(); assert c[\"role_name\"] == \"imds-analyzer-test-role\"'"
  end_scenario "token-request:200:aws-cli v2:200:aws-cli*2 token-request:200:python-urllib3 v2:200:python-urllib3*2"
}

scenario_awscli1_put403() {
  begin_scenario awscli1-put403-fallback-any.pcapng put-403 dumpcap-any \
    "AWS CLI v1 (pip) when the token PUT gets 403 (as behind a proxy that adds X-Forwarded-For): it falls back to IMDSv1 GETs on the same connection." v4
  client instance "$AWS_CLI_V1 configure list | grep 'access_key .*iam-role' >/dev/null"
  end_scenario "token-request:403:aws-cli v1:200:aws-cli*2"
}

scenario_awscli2_put404() {
  begin_scenario awscli2-put404-fallback-lo.pcap put-404 tcpdump-lo \
    "Debian's AWS CLI v2 (2.9.19) with no region configured, against an IMDS whose token PUT gets 404: it falls back to IMDSv1 for the credentials, then tries another PUT and reads the region from placement/availability-zone/ with v1." v4
  client instance "unset AWS_REGION AWS_DEFAULT_REGION; $AWS_CLI_V2 configure list | grep 'region .*imds' >/dev/null"
  end_scenario "token-request:404:aws-cli v1:200:aws-cli*2 token-request:404:aws-cli v1:200:aws-cli"
}

scenario_js_put_hang() {
  begin_scenario js-sdk-put-hang-lo-veth.pcapng put-hang dumpcap-lo-veth \
    "AWS SDK for JS v3 fromInstanceMetadata() called twice in one process, against an IMDS that never answers the token PUT (as when the PUT response hop limit is too low for a container): after the 1 s timeout each call falls back to IMDSv1 GETs; the unanswered PUTs have status null. @aws-sdk/credential-provider-imds 3.374 runs on the instance (lo), @smithy/credential-provider-imds 4.x in the container (veth); dumpcap records both interfaces." v4
  client instance "node $JS_CLIENT --package aws --calls 2"
  client container "node $JS_CLIENT --package smithy --calls 2"
  end_scenario "token-request:none:- v1:200:-*2 token-request:none:- v1:200:-*2 token-request:none:- v1:200:-*2 token-request:none:- v1:200:-*2"
}

scenario_required() {
  begin_scenario tokens-required-any.pcap required tcpdump-any \
    "IMDS with tokens required (HttpTokens=required): curl's IMDSv1 GETs get 401; both AWS SDK for JS v3 packages and curl with a token get their answers with IMDSv2." v4
  client instance "curl -sS -o /dev/null $IMDS/latest/meta-data/instance-id"
  client instance "curl -sS -o /dev/null $IMDS/latest/meta-data/iam/security-credentials/"
  client instance "node $JS_CLIENT --package aws"
  client instance "node $JS_CLIENT --package smithy"
  client instance "TOKEN=\$($PUT_TOKEN) && curl -sS -o /dev/null -H \"X-aws-ec2-metadata-token: \$TOKEN\" $IMDS/latest/meta-data/instance-id"
  end_scenario "v1:401:curl*2 token-request:200:- v2:200:-*2 token-request:200:- v2:200:-*2 token-request:200:curl v2:200:curl"
}

scenario_ipv6() {
  begin_scenario ipv6-endpoint-lo.pcap optional tcpdump-lo \
    "The IPv6 endpoint [fd00:ec2::254]:80: curl -g with IMDSv1 and with a token, @smithy/credential-provider-imds and AWS CLI v1 with AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6. Background traffic over IPv4 and IPv6, including to [fd00:ec2::254]:8080." v6
  client instance "curl -sS -g -o /dev/null 'http://[fd00:ec2::254]/latest/meta-data/instance-id'"
  client instance "TOKEN=\$(curl -sS -g -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' 'http://[fd00:ec2::254]/latest/api/token') && curl -sS -g -o /dev/null -H \"X-aws-ec2-metadata-token: \$TOKEN\" 'http://[fd00:ec2::254]/latest/meta-data/placement/region'"
  client instance "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 node $JS_CLIENT --package smithy"
  client instance "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 $AWS_CLI_V1 configure list | grep 'access_key .*iam-role' >/dev/null"
  end_scenario "v1:200:curl token-request:200:curl v2:200:curl token-request:200:- v2:200:-*2 token-request:200:aws-cli v2:200:aws-cli*2"
}

scenario_keepalive() {
  begin_scenario keepalive-pipelined-lo.pcap optional tcpdump-lo \
    "Many requests on few connections: Python http.client keeps one connection for a token PUT and GETs with the token (two header-name spellings), without it, with an empty token header, with a longer header name that starts with the token header's name, and with that name in the query (only the first two kinds are v2); then three pipelined requests written at once (v1, v2, v1); an HTTP/1.0 request without Host or User-Agent; curl fetching three URLs over one connection." v4
  client instance "$PYTHON scripts/clients/keepalive.py"
  client instance "curl -sS -o /dev/null -o /dev/null -o /dev/null $IMDS/latest/meta-data/instance-id $IMDS/latest/meta-data/ami-id $IMDS/latest/meta-data/placement/region"
  end_scenario "token-request:200:keepalive-test v2:200:keepalive-test*2 v1:200:keepalive-test*4 v2:200:keepalive-test v1:200:pipeline-test v2:200:pipeline-test v1:200:pipeline-test v1:200:- v1:200:curl*3"
}

scenario_container() {
  begin_scenario container-veth-eth.pcap optional tcpdump-veth \
    "A container-like client: its own network namespace and address ($CONTAINER_IPV4) behind a veth pair with real MACs, route to 169.254.169.254 via $CONTAINER_GATEWAY; tcpdump on the instance's end of the veth. boto3 gets credentials with IMDSv2, curl makes a v1 call, and a token PUT with X-Forwarded-For (as a proxy would add) gets 403. Background traffic from the container to the instance." container
  client container "$PYTHON -c 'import boto3; c = boto3.Session().get_credentials(); assert c.method == \"iam-role\"'"
  client container "curl -sS -o /dev/null $IMDS/latest/meta-data/instance-id"
  client container "curl -sS -o /dev/null -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' -H 'X-Forwarded-For: $CONTAINER_IPV4' $IMDS/latest/api/token"
  end_scenario "token-request:200:Boto3 v2:200:Boto3*2 v1:200:curl token-request:403:curl"
}

scenario_snaplen() {
  begin_scenario curl-snaplen96-lo.pcap optional tcpdump-lo-s96 \
    "tcpdump -s 96, as older runbooks say: each frame keeps 96 bytes, so a request keeps at most 30 bytes of its line after the Ethernet, IPv4 and TCP headers (with timestamps) and none of its headers. curl 7.88: IMDSv1 GETs (three on one keep-alive connection), token PUTs and v2 GETs. The analyzer must count no request as v1 or v2, still report the token PUTs, and say the packets were cut at 96 bytes." v4
  client instance "curl -sS -o /dev/null $IMDS/latest/meta-data/instance-id"
  client instance "TOKEN=\$($PUT_TOKEN) && curl -sS -o /dev/null -H \"X-aws-ec2-metadata-token: \$TOKEN\" $IMDS/latest/meta-data/iam/security-credentials/"
  client instance "curl -sS -o /dev/null -o /dev/null -o /dev/null $IMDS/latest/meta-data/ami-id $IMDS/latest/meta-data/hostname $IMDS/latest/meta-data/placement/region"
  client instance "TOKEN=\$($PUT_TOKEN) && curl -sS -o /dev/null -H \"X-aws-ec2-metadata-token: \$TOKEN\" $IMDS/latest/meta-data/instance-id"
  end_scenario "v1:200:curl token-request:200:curl v2:200:curl v1:200:curl*3 token-request:200:curl v2:200:curl"
}

main() {
  check_prerequisites
  cd "$REPO"
  WORK=$(mktemp -d /tmp/imds-captures.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  local started_at=$SECONDS

  STAGING=$WORK/captures
  mkdir -p "$STAGING"
  setup_namespaces
  start_background_server

  local scenarios=("$@") scenario
  ((${#scenarios[@]} > 0)) ||
    scenarios=(curl wget urllib awscli1_v2 awscli1_put403 awscli2_put404 js_put_hang required ipv6 keepalive container snaplen)
  for scenario in "${scenarios[@]}"; do
    declare -F "scenario_$scenario" >/dev/null || die "unknown scenario: $scenario"
  done
  for scenario in "${scenarios[@]}"; do "scenario_$scenario"; done

  # Secrets never reach the expected files (the capture files do hold the fake ones, by design).
  if grep -l -E 'FAKESECRET[A-Za-z0-9]|FAKEUSERDATA marker' "$STAGING"/*.json; then
    die "a fake secret leaked into the expected files"
  fi

  mkdir -p "$CAPTURES"
  if (($# == 0)); then
    # Idempotent: the folder ends up holding exactly what this run made.
    rm -f -- "$CAPTURES"/*.pcap "$CAPTURES"/*.pcapng "$CAPTURES"/*.expected.json "$CAPTURES"/README.md
  fi
  chmod 0644 "$STAGING"/*
  chown --reference="$REPO" "$STAGING"/* 2>/dev/null || true
  mv -- "$STAGING"/* "$CAPTURES"/
  node "$WRITE_README" --dir "$CAPTURES" --client-env "$CLIENT_ENV_TEXT"
  chown --reference="$REPO" "$CAPTURES/README.md" 2>/dev/null || true
  if grep -q -E 'FAKESECRET[A-Za-z0-9]|FAKEUSERDATA marker' "$CAPTURES/README.md"; then die "a fake secret leaked into captures/README.md"; fi
  log "done in $((SECONDS - started_at)) s: $(find "$CAPTURES" -name '*.pcap*' | wc -l) captures in $CAPTURES"
}

main "$@"
