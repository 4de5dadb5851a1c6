-- Hosts with no IMDSv1 call in the events and no request that could not be classified (kind
-- 'unclassified': seen only in part, any of them may be IMDSv1): READY candidates. The report's
-- READY also needs a long enough window (default one day) and a healthy capture; check
-- first_call/last_call and the analysis summaries before enforcing IMDSv2.
SELECT
  host,
  count(*) AS calls,
  sum(CASE WHEN kind = 'v2' THEN 1 ELSE 0 END) AS v2_calls,
  sum(CASE WHEN kind = 'token-request' THEN 1 ELSE 0 END) AS token_requests,
  min("time") AS first_call,
  max("time") AS last_call
FROM events
GROUP BY host
HAVING sum(CASE WHEN kind = 'v1' THEN 1 ELSE 0 END) = 0
  AND sum(CASE WHEN kind = 'unclassified' THEN 1 ELSE 0 END) = 0
ORDER BY host
