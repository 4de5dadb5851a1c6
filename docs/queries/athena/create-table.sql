-- Amazon Athena: the `events` table over NDJSON event files (gzip is read transparently) at
--   s3://BUCKET/imds-analyzer/events/host=<host>/dt=<YYYY-MM-DD>/<any name>.ndjson[.gz]
-- Replace BUCKET. After new host or dt folders appear: MSCK REPAIR TABLE events;
-- JSON keys match columns case-insensitively (userAgent -> useragent); queries may use either.
-- The events' own `host` key (the live host name) is not a column: `host` is the partition.
CREATE EXTERNAL TABLE IF NOT EXISTS events (
  `schema` string,
  `time` string,
  `kind` string,
  `method` string,
  `path` string,
  `httpversion` string,
  `useragent` string,
  `clientip` string,
  `clientport` int,
  `serverip` string,
  `serverport` int,
  `status` int,
  `responsemissing` string,
  `frame` bigint,
  `source` string,
  `process` struct<
    pid: int,
    starttime: string,
    comm: string,
    exe: string,
    cmdline: array<string>,
    uid: bigint,
    `user`: string,
    parents: array<struct<pid: int, comm: string, cmdline: array<string>>>,
    cgroup: string,
    container: struct<
      runtime: string,
      id: string,
      name: string,
      image: string,
      kubernetes: struct<namespace: string, pod: string, poduid: string, container: string>,
      ecs: struct<cluster: string, taskarn: string, taskid: string, family: string, revision: string, container: string>,
      source: string>,
    kubernetespoduid: string,
    systemdunit: string>,
  `attribution` struct<method: string, status: string, reason: string>,
  `instanceid` string,
  `tokenttlseconds` int,
  `forwardedfor` boolean,
  `requestonconnection` int,
  `incomplete` struct<cause: string, snaplen: int, parseerror: string, pathcomplete: boolean>
)
PARTITIONED BY (`host` string, `dt` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
LOCATION 's3://BUCKET/imds-analyzer/events/';
