-- IMDSv1 calls per host and caller. Live capture names the process (exe, command line);
-- offline analysis leaves process null, so the caller is its client address and User-Agent.
SELECT
  host,
  process.exe AS exe,
  process.cmdline AS cmdline,
  userAgent AS user_agent,
  clientIp AS client_ip,
  count(*) AS v1_calls,
  min("time") AS first_call,
  max("time") AS last_call
FROM events
WHERE kind = 'v1'
GROUP BY host, process.exe, process.cmdline, userAgent, clientIp
ORDER BY v1_calls DESC, host, user_agent, client_ip
