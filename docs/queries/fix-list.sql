-- The fix list (docs/REPORT.md "The fix list"): the IMDSv1 callers of every host grouped into
-- one row per program and reason, most hosts blocked first (ties: most IMDSv1 calls). Reads the
-- imds_callers view (duckdb/callers-view.sql, athena/callers-view.sql).
SELECT
  program_identified_by,
  program,
  reason,
  fallback_cause,
  sdk_part,
  count(DISTINCT host) AS host_count,
  count(*) AS caller_count,
  sum(v1) AS v1_calls,
  sum(v2) AS v2_calls,
  sum(token_requests) AS token_requests,
  count(DISTINCT CASE WHEN credential_paths = 1 THEN host END) AS credential_host_count,
  min_by(first_seen, first_ts) AS first_seen,
  max_by(last_seen, last_ts) AS last_seen,
  min(host) AS example_host
FROM imds_callers
WHERE reason IS NOT NULL
GROUP BY program_identified_by, program, reason, fallback_cause, sdk_part
ORDER BY host_count DESC, v1_calls DESC, program_identified_by, program, reason
