// @ts-check
/**
 * Fetches instance-role credentials the way an application on the AWS SDK for JavaScript v3
 * does: fromInstanceMetadata() from one of the two IMDS credential packages. Used by
 * scripts/make-captures.sh inside a test network namespace, against the fake IMDS only.
 *
 *   node test/fake-imds/clients/js-sdk-credentials.mjs --package aws|smithy [--calls N]
 *
 * "aws" is @aws-sdk/credential-provider-imds 3.374 (bundles @smithy 1.x), "smithy" is the
 * current @smithy/credential-provider-imds. The endpoint follows the SDK's own configuration
 * (AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 and so on). Prints no secret: only the access key
 * id's last four characters and the expiration.
 */
import { fromInstanceMetadata as fromAwsSdkPackage } from "@aws-sdk/credential-provider-imds";
import { fromInstanceMetadata as fromSmithyPackage } from "@smithy/credential-provider-imds";
import { parseArgs } from "node:util";

const packages = {
  aws: { name: "@aws-sdk/credential-provider-imds", fromInstanceMetadata: fromAwsSdkPackage },
  smithy: { name: "@smithy/credential-provider-imds", fromInstanceMetadata: fromSmithyPackage },
};
const maxCalls = 10;

const { values } = parseArgs({
  options: { package: { type: "string" }, calls: { type: "string", default: "1" } },
  strict: true,
});
const choice = values.package === "aws" || values.package === "smithy" ? packages[values.package] : undefined;
const calls = Number(values.calls);
if (choice === undefined || !Number.isInteger(calls) || calls < 1 || calls > maxCalls) {
  process.stderr.write(`usage: js-sdk-credentials.mjs --package aws|smithy [--calls 1..${maxCalls}]\n`);
  process.exit(2);
}

// One provider called several times, as a long-lived application would: the SDK keeps state
// between calls (an older version remembers a failed token PUT and skips it afterwards).
const provider = choice.fromInstanceMetadata({ timeout: 1000, maxRetries: 0 });
for (let call = 1; call <= calls; call++) {
  const startedAtMs = Date.now();
  const credentials = await provider();
  const tookMs = Date.now() - startedAtMs;
  process.stdout.write(
    `${choice.name} call ${call}: ok in ${tookMs} ms, access key ...${credentials.accessKeyId.slice(-4)}, ` +
      `expires ${credentials.expiration?.toISOString() ?? "never"}\n`,
  );
}
