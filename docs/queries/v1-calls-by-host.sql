-- IMDSv1, IMDSv2 and token calls per host, most IMDSv1 calls first.
SELECT
  host,
  sum(CASE WHEN kind = 'v1' THEN 1 ELSE 0 END) AS v1_calls,
  sum(CASE WHEN kind = 'v2' THEN 1 ELSE 0 END) AS v2_calls,
  sum(CASE WHEN kind = 'token-request' THEN 1 ELSE 0 END) AS token_requests
FROM events
GROUP BY host
ORDER BY v1_calls DESC, host
