-- Amazon Athena: the `imds_callers` view over `events` (create-table.sql): one row per host and
-- caller, as the report folds them. fix-list.sql and v1-calls-by-workload.sql read it.
-- GENERATED from docs/queries/duckdb/callers-view.sql (the one to edit) by the dialect rules in
-- test/report/fix-list-sql.test.ts, which checks that the two agree. Run it once after the table.
CREATE OR REPLACE VIEW imds_callers AS
WITH normalized AS (
  SELECT
    *,
    -- Every argument without per-host noise (command-line-noise.ts, rule for rule, in order).
    array_join(transform(process.cmdline, arg ->
      regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(arg,
        '(/tmp|/var/tmp|/dev/shm|/run/user/[0-9]+)/[^ \t\n\f\r/:=,;''"]+', '$1/<tmp>'),
        '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<uuid>'),
        '\bi-[0-9a-f]{8,17}\b', '<instance-id>'),
        '\bip-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}(\.[A-Za-z0-9.-]+)?', '<host>'),
        '\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(:[0-9]{1,5})?\b', '<ip>'),
        '\[?\b[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,7}\]?(:[0-9]{1,5})?', '<ip>'),
        '\b[0-9a-fA-F]{12,}\b', '<hex>'),
        '\btmp[._]?[A-Za-z0-9_]{6,}', '<tmp>'),
        '([-_])([A-Za-z]+[0-9]|[0-9]+[A-Za-z])[A-Za-z0-9]{3,}\b', '$1<rand>'),
        '(^|[=:@ ])[0-9]+($|[ ,;/])', '$1<n>$2'),
        '/[0-9]{3,}($|[/. ])', '/<n>$1')), ' ') AS normalized_args
  FROM events
),
named AS (
  SELECT
    host,
    "time",
    from_iso8601_timestamp("time") AS ts,
    kind,
    status,
    responseMissing,
    forwardedFor,
    userAgent,
    clientIp,
    split_part(path, '?', 1) AS bare_path,
    process,
    normalized_args,
    -- The caller: the program when live capture named the process (its command line without
    -- per-run noise), else address and User-Agent.
    CASE
      WHEN process IS NULL THEN 'client ' || clientIp || ' ' || coalesce(userAgent, '(no User-Agent)')
      ELSE 'process ' || coalesce(process.exe, process.comm) || ' ' || normalized_args
        || ' ' || coalesce(process.container.id, '') || ' ' || coalesce(process.systemdUnit, '') || ' ' || coalesce(process.kubernetesPodUid, '')
    END AS caller,
    -- Clients ranked as the report ranks them: an AWS SDK or agent over a tool over a library
    -- over no User-Agent; the prefix makes max() pick it (ties: the greatest User-Agent).
    CASE
      WHEN userAgent IS NULL THEN '1N'
      WHEN regexp_like(userAgent, '(?i)(^|[ ;(,])(aws-cli|boto3|botocore|aws-sdk-java|aws-sdk-go-v2|aws-sdk-go|aws-sdk-nodejs|aws-sdk-js|AWSPowerShell(\.NetCore)?|AWS\.Tools\.[A-Za-z.]+|cloud-init|aws-sdk-php|aws-sdk-cpp)/[0-9]')
        OR regexp_like(userAgent, '(?i)(^|[ ])(aws-sdk-dotnet-[A-Za-z0-9]+/|aws-sdk-ruby[0-9]*/[0-9])') THEN '4U' || userAgent
      WHEN regexp_like(userAgent, '(?i)^(curl/|wget/|python-urllib/|python-requests/|python-httpx/|aiohttp/|go-http-client/|java/|apache-httpclient/|okhttp/|node-fetch|undici|axios/|libwww-perl/|httpie/|faraday )')
        OR regexp_like(userAgent, '(?i)^(node(/[^ ]*)?|ruby)$') OR regexp_like(userAgent, '(?i)WindowsPowerShell/') OR regexp_like(userAgent, '(?i)^Mozilla/5\.0 .*PowerShell/') THEN '3U' || userAgent
      WHEN regexp_like(userAgent, '(?i)^python-urllib3/') THEN '2U' || userAgent
      ELSE '0U' || userAgent
    END AS ranked_user_agent
  FROM normalized
),
per_caller AS (
  SELECT
    host,
    caller,
    min(process.exe) AS exe,
    min(process.comm) AS comm,
    min(normalized_args) AS normalized_args,
    min(process.container.image) AS image,
    min(process.container.name) AS container_name,
    min(process.container.runtime) AS runtime,
    min(process.container.kubernetes.namespace) AS namespace,
    min(process.container.kubernetes.pod) AS pod,
    min(process.container.kubernetes.container) AS kubernetes_container,
    min(process.container.ecs.family) AS ecs_family,
    min(process.container.ecs.container) AS ecs_container,
    max(CASE WHEN process IS NULL THEN 0 ELSE 1 END) AS has_process,
    max(CASE WHEN process.container IS NOT NULL OR process.kubernetesPodUid IS NOT NULL THEN 1 ELSE 0 END) AS in_container,
    sum(CASE WHEN kind = 'v1' THEN 1 ELSE 0 END) AS v1,
    sum(CASE WHEN kind = 'v2' THEN 1 ELSE 0 END) AS v2,
    sum(CASE WHEN kind = 'token-request' THEN 1 ELSE 0 END) AS token_requests,
    sum(CASE WHEN kind = 'v1' AND status = 401 THEN 1 ELSE 0 END) AS v1_refused,
    sum(CASE WHEN kind = 'token-request' AND status = 200 THEN 1 ELSE 0 END) AS answered_puts,
    sum(CASE WHEN kind = 'token-request' AND (status IS NULL AND coalesce(responseMissing, 'no-answer') <> 'unobserved') THEN 1 ELSE 0 END) AS unanswered_puts,
    sum(CASE WHEN kind = 'token-request' AND status = 403 THEN 1 ELSE 0 END) AS puts_403,
    sum(CASE WHEN kind = 'token-request' AND status = 404 THEN 1 ELSE 0 END) AS puts_404,
    sum(CASE WHEN kind = 'token-request' AND status = 405 THEN 1 ELSE 0 END) AS puts_405,
    sum(CASE WHEN kind = 'token-request' AND ((status IS NULL AND coalesce(responseMissing, 'no-answer') <> 'unobserved') OR status IN (403, 404, 405)) AND forwardedFor THEN 1 ELSE 0 END) AS forwarded_puts,
    min(CASE WHEN kind = 'token-request' AND ((status IS NULL AND coalesce(responseMissing, 'no-answer') <> 'unobserved') OR status IN (403, 404, 405)) THEN ts END) AS first_failed_put,
    max(CASE WHEN kind = 'v1' THEN ts END) AS last_v1,
    max(CASE WHEN kind = 'v1' AND (regexp_like(bare_path, '^/[^/]+/meta-data/iam/security-credentials(/|$)') OR regexp_like(bare_path, '^/[^/]+/meta-data/identity-credentials/')) THEN 1 ELSE 0 END) AS credential_paths,
    min_by("time", ts) AS first_seen,
    max_by("time", ts) AS last_seen,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    max(ranked_user_agent) AS best_ranked_user_agent
  FROM named
  GROUP BY host, caller
),
with_client AS (
  SELECT
    *,
    CASE WHEN best_ranked_user_agent = '1N' THEN NULL ELSE substr(best_ranked_user_agent, 3) END AS user_agent
  FROM per_caller
),
with_sdk AS (
  SELECT
    *,
    nullif(regexp_extract(user_agent, '(?i)(^|[ ;(,])aws-cli/([0-9][0-9A-Za-z.+_-]*)', 2), '') AS cli_version,
    nullif(regexp_extract(user_agent, '(?i)(^|[ ;(,])boto3/([0-9][0-9A-Za-z.+_-]*)', 2), '') AS boto3_version,
    nullif(regexp_extract(user_agent, '(?i)(^|[ ;(,])botocore/([0-9][0-9A-Za-z.+_-]*)', 2), '') AS botocore_version,
    nullif(regexp_extract(user_agent, '(?i)(^|[ ;(,])aws-sdk-java/([0-9][0-9A-Za-z.+_-]*)', 2), '') AS java_version,
    nullif(regexp_extract(user_agent, '(?i)(^|[ ;(,])aws-sdk-go-v2/([0-9][0-9A-Za-z.+_-]*)', 2), '') AS go2_version,
    nullif(regexp_extract(user_agent, '(?i)(^|[ ;(,])aws-sdk-go/([0-9][0-9A-Za-z.+_-]*)', 2), '') AS go_version,
    coalesce(nullif(regexp_extract(user_agent, '(?i)(^|[ ;(,])aws-sdk-nodejs/([0-9][0-9A-Za-z.+_-]*)', 2), ''), nullif(regexp_extract(user_agent, '(?i)(^|[ ;(,])aws-sdk-js/([0-9][0-9A-Za-z.+_-]*)', 2), '')) AS js_version,
    nullif(regexp_extract(user_agent, '(?i)^(curl|wget|python-urllib|python-requests|python-httpx|aiohttp|go-http-client|java|apache-httpclient|okhttp|axios|libwww-perl|httpie)/', 1), '') AS tool,
    nullif(regexp_extract(user_agent, '(?i)^(curl|wget|python-urllib|python-requests|python-httpx|aiohttp|go-http-client|java|apache-httpclient|okhttp|axios|libwww-perl|httpie)/([^ ]*)', 2), '') AS tool_version
  FROM with_client
),
judged AS (
  -- The client and the version judged against AWS's documented minimum (user-agent.ts). The
  -- SQL knows the AWS CLI, boto3, botocore, the Java, Go and JavaScript SDKs and the tools;
  -- other SDKs (.NET, Ruby, PHP, C++, PowerShell, cloud-init) are unknown clients here.
  SELECT
    *,
    CASE
      WHEN user_agent IS NULL THEN 'aws-sdk-js-v3'
      WHEN cli_version IS NOT NULL THEN CASE WHEN try_cast(split_part(cli_version, '.', 1) AS INTEGER) >= 2 THEN 'aws-cli-v2' ELSE 'aws-cli-v1' END
      WHEN boto3_version IS NOT NULL THEN 'boto3'
      WHEN botocore_version IS NOT NULL THEN 'botocore'
      WHEN java_version IS NOT NULL THEN CASE WHEN try_cast(split_part(java_version, '.', 1) AS INTEGER) >= 2 THEN 'aws-sdk-java-v2' ELSE 'aws-sdk-java-v1' END
      WHEN go2_version IS NOT NULL THEN 'aws-sdk-go-v2'
      WHEN go_version IS NOT NULL THEN 'aws-sdk-go'
      WHEN js_version IS NOT NULL THEN CASE WHEN try_cast(split_part(js_version, '.', 1) AS INTEGER) >= 3 THEN 'aws-sdk-js-v3' ELSE 'aws-sdk-js-v2' END
      WHEN tool IS NOT NULL THEN CASE lower(tool) WHEN 'java' THEN 'java-http' ELSE lower(tool) END
      WHEN regexp_like(user_agent, '(?i)^python-urllib3/') THEN 'python-urllib3'
    END AS sdk,
    CASE
      WHEN user_agent IS NULL THEN NULL
      WHEN cli_version IS NOT NULL THEN cli_version
      WHEN boto3_version IS NOT NULL THEN boto3_version
      WHEN botocore_version IS NOT NULL THEN botocore_version
      WHEN java_version IS NOT NULL THEN java_version
      WHEN go2_version IS NOT NULL THEN go2_version
      WHEN go_version IS NOT NULL THEN go_version
      WHEN js_version IS NOT NULL THEN js_version
      WHEN tool IS NOT NULL THEN tool_version
    END AS sdk_version,
    -- AWS CLI v1 and boto3 are judged by their botocore when the User-Agent names it.
    CASE
      WHEN cli_version IS NOT NULL AND try_cast(split_part(cli_version, '.', 1) AS INTEGER) < 2 THEN botocore_version
      WHEN cli_version IS NULL AND boto3_version IS NOT NULL THEN botocore_version
    END AS judged_by_version,
    CASE
      WHEN user_agent IS NULL THEN NULL
      WHEN cli_version IS NOT NULL THEN CASE WHEN botocore_version IS NOT NULL AND try_cast(split_part(cli_version, '.', 1) AS INTEGER) < 2 THEN '1.13.25' ELSE '1.16.289' END
      WHEN boto3_version IS NOT NULL THEN CASE WHEN botocore_version IS NOT NULL THEN '1.13.25' ELSE '1.12.6' END
      WHEN botocore_version IS NOT NULL THEN '1.13.25'
      WHEN java_version IS NOT NULL THEN CASE WHEN try_cast(split_part(java_version, '.', 1) AS INTEGER) >= 2 THEN '2.10.21' ELSE '1.11.678' END
      WHEN go2_version IS NOT NULL THEN '0.19.0'
      WHEN go_version IS NOT NULL THEN '1.25.38'
      WHEN js_version IS NOT NULL THEN '2.722.0'
    END AS minimum
  FROM with_sdk
),
supported AS (
  SELECT
    *,
    -- Versions compared part by part (at most four numeric parts, each padded to 9 digits).
    CASE
      WHEN tool IS NOT NULL THEN FALSE
      WHEN minimum IS NULL OR coalesce(judged_by_version, sdk_version) IS NULL OR NOT regexp_like(coalesce(judged_by_version, sdk_version), '^[0-9]') THEN NULL
      ELSE lpad(coalesce(nullif(regexp_extract(split_part(coalesce(judged_by_version, sdk_version), '.', 1), '^[0-9]+', 0), ''), '0'), 9, '0')
        || lpad(coalesce(nullif(regexp_extract(split_part(coalesce(judged_by_version, sdk_version), '.', 2), '^[0-9]+', 0), ''), '0'), 9, '0')
        || lpad(coalesce(nullif(regexp_extract(split_part(coalesce(judged_by_version, sdk_version), '.', 3), '^[0-9]+', 0), ''), '0'), 9, '0')
        || lpad(coalesce(nullif(regexp_extract(split_part(coalesce(judged_by_version, sdk_version), '.', 4), '^[0-9]+', 0), ''), '0'), 9, '0')
        >= lpad(split_part(minimum, '.', 1), 9, '0') || lpad(split_part(minimum, '.', 2), 9, '0') || lpad(split_part(minimum, '.', 3), 9, '0') || lpad(coalesce(nullif(split_part(minimum, '.', 4), ''), '0'), 9, '0')
    END AS supports_imdsv2,
    CASE
      WHEN forwarded_puts > 0 THEN 'put-forwarded-for'
      WHEN unanswered_puts > 0 THEN 'put-unanswered'
      WHEN puts_403 > 0 THEN 'put-403'
      WHEN puts_404 > 0 THEN 'put-404'
      WHEN puts_405 > 0 THEN 'put-405'
    END AS failed_put_cause
  FROM judged
),
reasoned AS (
  SELECT
    *,
    CASE
      WHEN v1 = 0 THEN NULL
      WHEN tool IS NOT NULL THEN 'no-token-support'
      WHEN failed_put_cause IS NOT NULL AND last_v1 >= first_failed_put THEN 'fallback'
      WHEN supports_imdsv2 = FALSE THEN 'sdk-too-old'
      WHEN supports_imdsv2 = TRUE AND user_agent IS NOT NULL THEN 'fallback'
      WHEN answered_puts > 0 AND v2 = 0 THEN 'fallback'
      ELSE 'unknown'
    END AS reason,
    CASE
      WHEN v1 = 0 OR tool IS NOT NULL THEN NULL
      WHEN failed_put_cause IS NOT NULL AND last_v1 >= first_failed_put THEN failed_put_cause
      WHEN supports_imdsv2 = FALSE THEN NULL
      WHEN supports_imdsv2 = TRUE AND user_agent IS NOT NULL THEN CASE WHEN answered_puts > 0 AND v2 = 0 THEN 'put-answer-lost' ELSE 'put-not-seen' END
      WHEN answered_puts > 0 AND v2 = 0 THEN 'put-answer-lost'
    END AS fallback_cause,
    -- The workload a pod name makes evident (container-names.ts: ReplicaSet hash, CronJob Job
    -- name, generated suffix, StatefulSet ordinal), else the pod.
    CASE
      WHEN regexp_like(pod, '^.+-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$') THEN regexp_extract(pod, '^(.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$', 1)
      WHEN regexp_like(pod, '^.+-[0-9]{8,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$') THEN regexp_extract(pod, '^(.+)-[0-9]{8,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$', 1)
      WHEN regexp_like(pod, '^.+-[bcdfghjklmnpqrstvwxz2456789]{5}$') THEN regexp_extract(pod, '^(.+)-[bcdfghjklmnpqrstvwxz2456789]{5}$', 1)
      WHEN regexp_like(pod, '^.+-(0|[1-9][0-9]{0,4})$') THEN regexp_extract(pod, '^(.+)-(0|[1-9][0-9]{0,4})$', 1)
    END AS derived_workload
  FROM supported
)
SELECT
  host,
  caller,
  user_agent,
  sdk,
  sdk_version,
  judged_by_version,
  reason,
  fallback_cause,
  v1,
  v2,
  token_requests,
  credential_paths,
  in_container,
  first_seen,
  last_seen,
  first_ts,
  last_ts,
  namespace,
  pod,
  coalesce(derived_workload, pod) AS workload,
  derived_workload IS NOT NULL AS workload_derived,
  image,
  ecs_family,
  ecs_container,
  -- What identifies the program across hosts (program-identity.ts), and the identity itself.
  CASE
    WHEN has_process = 0 THEN CASE WHEN sdk IS NOT NULL THEN 'user-agent' ELSE 'unidentified' END
    WHEN image IS NOT NULL THEN 'image'
    WHEN pod IS NOT NULL THEN 'kubernetes-workload'
    WHEN ecs_family IS NOT NULL THEN 'ecs-task-family'
    WHEN container_name IS NOT NULL THEN 'container-name'
    ELSE 'command-line'
  END AS program_identified_by,
  CASE
    WHEN has_process = 0 THEN coalesce(sdk, nullif(split_part(user_agent, ' ', 1), ''), '(no User-Agent)')
    WHEN image IS NOT NULL THEN image
    WHEN pod IS NOT NULL THEN coalesce(namespace, '?') || '/' || coalesce(derived_workload, pod) || coalesce(' container ' || kubernetes_container, '')
    WHEN ecs_family IS NOT NULL THEN ecs_family || coalesce(' container ' || ecs_container, '')
    WHEN container_name IS NOT NULL THEN container_name
    ELSE regexp_replace(coalesce(exe, comm), ' \(deleted\)$', '') || ' ' || normalized_args
  END AS program,
  -- The part of the SDK a fix is about: its version when the version must change.
  CASE
    WHEN sdk IS NULL THEN ''
    WHEN reason = 'sdk-too-old' THEN sdk || ' ' || coalesce(sdk_version, '') || ' ' || coalesce(judged_by_version, '')
    ELSE sdk
  END AS sdk_part
FROM reasoned;
