-- DuckDB: the `events` view over NDJSON event files laid out like the S3 prefix Athena reads:
--   events/host=<host>/dt=<YYYY-MM-DD>/<any name>.ndjson   (gzip: .ndjson.gz works too)
-- Explicit columns, so a file without (say) any process object still gets the full schema, and
-- events written before the container names existed read them as null.
-- The events' own `host` key (the live host name) is not read: `host` is the partition folder.
-- Run from the directory holding events/, or replace the quoted glob below (keep it on one line).
CREATE OR REPLACE VIEW events AS
SELECT *
FROM read_json(
  'events/host=*/dt=*/*.ndjson*',
  format = 'newline_delimited',
  hive_partitioning = true,
  hive_types = {'host': 'VARCHAR', 'dt': 'VARCHAR'},
  columns = {
    'schema': 'VARCHAR',
    'time': 'VARCHAR',
    'kind': 'VARCHAR',
    'method': 'VARCHAR',
    'path': 'VARCHAR',
    'httpVersion': 'VARCHAR',
    'userAgent': 'VARCHAR',
    'clientIp': 'VARCHAR',
    'clientPort': 'INTEGER',
    'serverIp': 'VARCHAR',
    'serverPort': 'INTEGER',
    'status': 'INTEGER',
    'responseMissing': 'VARCHAR',
    'frame': 'BIGINT',
    'source': 'VARCHAR',
    'process': 'STRUCT(pid INTEGER, startTime VARCHAR, comm VARCHAR, exe VARCHAR, cmdline VARCHAR[], uid BIGINT, "user" VARCHAR, parents STRUCT(pid INTEGER, comm VARCHAR, cmdline VARCHAR[])[], cgroup VARCHAR, container STRUCT(runtime VARCHAR, id VARCHAR, name VARCHAR, image VARCHAR, kubernetes STRUCT(namespace VARCHAR, pod VARCHAR, podUid VARCHAR, container VARCHAR), ecs STRUCT(cluster VARCHAR, taskArn VARCHAR, taskId VARCHAR, family VARCHAR, revision VARCHAR, container VARCHAR), source VARCHAR), kubernetesPodUid VARCHAR, systemdUnit VARCHAR)',
    'attribution': 'STRUCT(method VARCHAR, status VARCHAR, reason VARCHAR)',
    'instanceId': 'VARCHAR',
    'tokenTtlSeconds': 'INTEGER',
    'forwardedFor': 'BOOLEAN',
    'requestOnConnection': 'INTEGER',
    'incomplete': 'STRUCT(cause VARCHAR, snaplen INTEGER, parseError VARCHAR, pathComplete BOOLEAN)'
  }
);
