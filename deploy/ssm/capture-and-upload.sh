#!/bin/sh
# imds-analyzer on a fleet: the script of the SSM Run Command document imds-analyzer-capture.json,
# which embeds this file line for line (edit it here, then run node deploy/ssm/embed-script.mjs;
# test/deploy/ssm-document.test.ts fails while they differ).
#
# Fetches the single executable from S3 and runs nothing unless its SHA-256 is the one given;
# captures for the given time; uploads events, summary and report under the results prefix,
# partitioned by instance and day as docs/QUERYING.md's Athena table reads them:
#   PREFIX/events/host=ID/dt=DAY/STAMP.ndjson.gz   (the events table)
#   PREFIX/summaries/host=ID/dt=DAY/STAMP.json     (capture health: drops, window, attribution)
#   PREFIX/reports/host=ID/dt=DAY/STAMP.md         (this instance's readiness report)
# It asks IMDS with IMDSv2 only (a token PUT first, never a plain GET), and so does the AWS CLI
# it runs (AWS_EC2_METADATA_V1_DISABLED): this document is never an IMDSv1 caller itself.
# Every failed step ends it with exit code 1 and one last line saying what failed; whatever
# happens, its working directory (the executable, the results) is removed.
set -eu

# Systems Manager writes the parameters in here. Their allowedPatterns admit no quote, no
# backslash and no whitespace, so each value stays one literal word inside its single quotes.
executable_url='{{ ExecutableUrl }}'
executable_sha256='{{ ExecutableSha256 }}'
duration='{{ Duration }}'
results_prefix='{{ ResultsPrefix }}'
capture_interface='{{ Interface }}'

# Not parameters (no command can set them): the tests point these at a local S3 server, a
# scratch directory and, to run without IMDS, an instance id. Unset in production: the AWS CLI
# uses S3 itself, the work is under /var/lib, the instance id comes from IMDSv2.
endpoint_url="${IMDS_ANALYZER_S3_ENDPOINT_URL:-}"
work_root="${IMDS_ANALYZER_WORK_ROOT:-/var/lib/imds-analyzer-ssm}"
instance_id="${IMDS_ANALYZER_INSTANCE_ID:-}"

say() { printf 'imds-analyzer-ssm: %s\n' "$*"; }
fail() { printf 'imds-analyzer-ssm: %s\n' "$*" >&2; exit 1; }

for tool in aws curl sha256sum gzip mktemp; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (needs: AWS CLI, curl, coreutils, gzip)"
done

# The AWS CLI gets the instance role's credentials from IMDS with a token, but falls back to
# IMDSv1 when its token PUT fails (the CLI v1 heeds AWS_EC2_METADATA_V1_DISABLED, but Debian 12's
# CLI v2, 2.9.19, was seen to ignore it). So the CLI may ask IMDS only after this script's own
# token PUT and GET succeeded; otherwise IMDS is disabled for it.
AWS_EC2_METADATA_V1_DISABLED=true
export AWS_EC2_METADATA_V1_DISABLED
no_imds_for_cli() {
  AWS_EC2_METADATA_DISABLED=true
  export AWS_EC2_METADATA_DISABLED
}

s3() {
  if [ -n "$endpoint_url" ]; then
    aws --endpoint-url "$endpoint_url" s3 "$@" --only-show-errors
  else
    aws s3 "$@" --only-show-errors
  fi
}

is_instance_id() { printf '%s' "$1" | grep -Eqx 'i-[0-9a-f]{8,17}'; }

if [ -n "$instance_id" ]; then
  is_instance_id "$instance_id" || fail "IMDS_ANALYZER_INSTANCE_ID is not an instance id: $instance_id"
  say "instance id $instance_id given (IMDS not asked, nor by the AWS CLI)"
  no_imds_for_cli
else
  # IMDSv2: one token (PUT), then GETs carrying it. The token goes to curl on its standard input
  # (-H @-), so it never shows in a process list; it is never written anywhere. No token, no IMDS:
  # there is no IMDSv1 fallback.
  imds=http://169.254.169.254/latest
  imds_token=$(curl -sf --max-time 3 -A imds-analyzer-ssm -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$imds/api/token" 2>/dev/null) || imds_token=''
  imds_get() {
    [ -n "$imds_token" ] || return 1
    printf 'X-aws-ec2-metadata-token: %s\n' "$imds_token" | curl -sf --max-time 3 -A imds-analyzer-ssm -H @- "$imds/meta-data/$1" 2>/dev/null
  }
  instance_id=$(imds_get instance-id) || instance_id=''
  if ! is_instance_id "$instance_id"; then
    say "IMDSv2 gave no instance id; the capture's own will be used, and the AWS CLI will not ask IMDS (it could fall back to IMDSv1)"
    instance_id=''
    no_imds_for_cli
  fi
  if [ -z "${AWS_REGION:-}${AWS_DEFAULT_REGION:-}" ]; then
    region=$(imds_get placement/region) || region=''
    if printf '%s' "$region" | grep -Eqx '[a-z]{2}(-[a-z]+)+-[0-9]+'; then
      AWS_DEFAULT_REGION=$region
      export AWS_DEFAULT_REGION
    fi
  fi
  imds_token=''
fi

umask 077
work=''
trap 'if [ -n "$work" ]; then rm -rf "$work"; fi' EXIT
trap 'exit 143' TERM INT HUP
mkdir -p "$work_root" || fail "could not create $work_root"
work=$(mktemp -d "$work_root/run.XXXXXXXX") || fail "could not make a working directory in $work_root"
executable="$work/imds-analyzer"
results="$work/results"
mkdir "$results" || fail "could not create $results"

say "fetching $executable_url"
s3 cp "$executable_url" "$executable" || fail "could not fetch $executable_url"
actual_sha256=$(sha256sum "$executable") || fail "could not hash $executable"
actual_sha256=${actual_sha256%% *}
expected_sha256=$(printf '%s' "$executable_sha256" | tr 'A-F' 'a-f')
if [ "$actual_sha256" != "$expected_sha256" ]; then
  fail "SHA-256 mismatch: $executable_url is $actual_sha256, expected $expected_sha256; not running it"
fi
chmod 0700 "$executable" || fail "could not make $executable executable"

day=$(date -u +%Y-%m-%d)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
say "capturing for $duration on $capture_interface"
capture_status=0
"$executable" capture --interface "$capture_interface" --duration "$duration" \
  --events "$results/events.ndjson" --summary-json "$results/summary.json" --report "$results/report.md" || capture_status=$?
if [ "$capture_status" -ne 0 ] && [ ! -s "$results/summary.json" ]; then
  fail "capture failed (exit code $capture_status, its message is above); nothing to upload"
fi

if [ -z "$instance_id" ] && [ -f "$results/summary.json" ]; then
  instance_id=$(grep -Eo '"instanceId": *"i-[0-9a-f]+"' "$results/summary.json" | head -n 1 | grep -Eo 'i-[0-9a-f]+') || instance_id=''
fi
is_instance_id "$instance_id" || fail "no instance id (IMDSv2 did not answer and the capture saw none); nothing uploaded"

prefix=${results_prefix%/}
partition="host=$instance_id/dt=$day"
upload() {
  s3 cp "$1" "$2" || fail "could not upload $2 (the results are not kept on the instance)"
  uploaded=$((uploaded + 1))
}
uploaded=0
if [ -f "$results/events.ndjson" ]; then
  gzip -n "$results/events.ndjson" || fail "could not compress $results/events.ndjson"
  upload "$results/events.ndjson.gz" "$prefix/events/$partition/$stamp.ndjson.gz"
fi
[ ! -f "$results/summary.json" ] || upload "$results/summary.json" "$prefix/summaries/$partition/$stamp.json"
[ ! -f "$results/report.md" ] || upload "$results/report.md" "$prefix/reports/$partition/$stamp.md"
say "uploaded $uploaded files under $prefix/{events,summaries,reports}/$partition/ as $stamp"
[ "$capture_status" -eq 0 ] || fail "capture exited with code $capture_status (what it wrote is uploaded)"
