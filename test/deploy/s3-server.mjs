// @ts-check
/**
 * A local S3-compatible server for the fleet-rollout tests (s3rver, a devDependency): it checks
 * every request's SigV4 signature against the dummy key pair S3RVER / S3RVER and keeps objects
 * under --directory. Run it inside a test network namespace, which has no route out, so no
 * client pointed at it can reach real AWS.
 *
 *   node test/deploy/s3-server.mjs --directory DIR [--address 127.0.0.1] [--port 0] [--bucket NAME ...]
 *
 * Prints "listening on ADDRESS:PORT", then "ready"; stops on SIGTERM or SIGINT.
 */
import { parseArgs } from "node:util";
import S3rver from "s3rver";

const { values } = parseArgs({
  options: {
    directory: { type: "string" },
    address: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    bucket: { type: "string", multiple: true, default: [] },
  },
});
if (values.directory === undefined) {
  process.stderr.write("usage: s3-server.mjs --directory DIR [--address ADDR] [--port N] [--bucket NAME ...]\n");
  process.exit(2);
}

const server = new S3rver({
  address: values.address,
  port: Number(values.port),
  directory: values.directory,
  silent: true,
  configureBuckets: values.bucket.map((name) => ({ name })),
});
const { address, port } = await server.run();
process.stdout.write(`listening on ${address}:${port}\nready\n`);
const stop = () => { void server.close().then(() => process.exit(0)); };
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
