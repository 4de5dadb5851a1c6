-- IMDSv1 calls of callers in containers, by Kubernetes namespace and workload (derived from the
-- pod name where a generated suffix makes it evident: workload_derived) and by image; ECS task
-- families have namespace and workload null. Reads the imds_callers view.
SELECT
  namespace,
  workload,
  workload_derived,
  image,
  ecs_family,
  count(DISTINCT host) AS hosts,
  count(*) AS callers,
  sum(v1) AS v1_calls,
  sum(v2) AS v2_calls,
  sum(token_requests) AS token_requests
FROM imds_callers
WHERE pod IS NOT NULL OR image IS NOT NULL OR ecs_family IS NOT NULL
GROUP BY namespace, workload, workload_derived, image, ecs_family
ORDER BY v1_calls DESC, namespace, workload, image
