-- Callers that fell back: a token PUT answered 403/404/405 or not answered at all (status null;
-- not when responseMissing is 'unobserved': an answer may have come but was not captured),
-- followed by IMDSv1 calls from the same caller on the same host. The caller is the process id
-- when live capture named it, else the client address and User-Agent (as the report groups them).
-- "followed by" compares the ISO-8601 times as text: exact within one source (fixed precision).
WITH calls AS (
  SELECT
    host,
    kind,
    status,
    responseMissing,
    "time",
    userAgent,
    clientIp,
    process.exe AS exe,
    CASE
      WHEN process IS NULL THEN 'client ' || clientIp || ' ' || coalesce(userAgent, '(no User-Agent)')
      ELSE 'pid ' || CAST(process.pid AS VARCHAR)
    END AS caller
  FROM events
),
failed_puts AS (
  SELECT
    host,
    caller,
    min("time") AS first_failed_put,
    count(*) AS failed_puts,
    sum(CASE WHEN (status IS NULL AND coalesce(responseMissing, 'no-answer') <> 'unobserved') THEN 1 ELSE 0 END) AS unanswered_puts,
    sum(CASE WHEN status = 403 THEN 1 ELSE 0 END) AS puts_403,
    sum(CASE WHEN status = 404 THEN 1 ELSE 0 END) AS puts_404,
    sum(CASE WHEN status = 405 THEN 1 ELSE 0 END) AS puts_405
  FROM calls
  WHERE kind = 'token-request' AND (status IN (403, 404, 405) OR (status IS NULL AND coalesce(responseMissing, 'no-answer') <> 'unobserved'))
  GROUP BY host, caller
)
SELECT
  p.host,
  p.caller,
  min(v.exe) AS exe,
  min(v.userAgent) AS user_agent,
  p.failed_puts,
  p.unanswered_puts,
  p.puts_403,
  p.puts_404,
  p.puts_405,
  count(*) AS v1_calls_after
FROM failed_puts p
JOIN calls v
  ON v.host = p.host AND v.caller = p.caller AND v.kind = 'v1' AND v."time" >= p.first_failed_put
GROUP BY p.host, p.caller, p.failed_puts, p.unanswered_puts, p.puts_403, p.puts_404, p.puts_405
ORDER BY p.host, p.caller
