import { compareVersions, isComparableVersion } from "./version-compare.js";

/**
 * AWS's documented minimum versions that support IMDSv2 ("Use a supported AWS SDK", EC2 User
 * Guide). AWS CLI covers v1 and v2 (every 2.x is later); JavaScript covers v2 and v3 likewise.
 */
export const minimumImdsV2Versions = {
  awsCli: "1.16.289",
  botocore: "1.13.25",
  boto3: "1.12.6",
  java: "1.11.678",
  java2: "2.10.21",
  javascript: "2.722.0",
  go: "1.25.38",
  goV2: "0.19.0",
  dotnet: "3.3.634.1",
  ruby: "3.79.0",
  php: "3.147.7",
  cpp: "1.7.229",
  powershell: "4.0.1.0",
} as const;

/** Not in AWS's table: cloud-init's EC2 datasource got IMDSv2 session tokens in 19.4 (its changelog). */
export const cloudInitMinimumImdsV2Version = "19.4";

/**
 * - `aws-sdk`: an AWS SDK, the AWS CLI or AWS Tools for PowerShell: fetches a token by itself.
 * - `agent`: other software with its own IMDS client (cloud-init).
 * - `http-tool`: curl, wget, an HTTP library's default User-Agent: whoever wrote the call decides
 *   whether it sends a token, so its IMDSv1 calls are hand-written calls without one.
 * - `http-library`: a library several clients share (python-urllib3: botocore's fetcher used
 *   directly, or a hand-written script): the client behind it is unknown.
 */
export type ClientKind = "aws-sdk" | "agent" | "http-tool" | "http-library";

export interface SdkInfo {
  /** Stable identifier: "aws-cli-v1", "botocore", "aws-sdk-java-v2", "curl", ... */
  readonly name: string;
  /** For people: "AWS CLI v1", "AWS SDK for Java 2.x", "curl". */
  readonly displayName: string;
  readonly kind: ClientKind;
  /** The version in the User-Agent, null when it has none. */
  readonly version: string | null;
  /**
   * The documented minimum for IMDSv2 of the component judged (`judgedBy` when set, else this
   * client); null when no minimum applies (tools, unknown clients).
   */
  readonly minimumForImdsV2: string | null;
  /** true: supports IMDSv2; false: too old (or a tool that never asks for a token); null: cannot tell. */
  readonly supportsImdsV2: boolean | null;
  /**
   * The component the judgement rests on when it is not the client itself: the AWS CLI v1 and
   * boto3 are judged by their botocore, which makes the IMDS calls (pip can pair an old CLI
   * with a new botocore).
   */
  readonly judgedBy: { readonly name: string; readonly version: string } | null;
  /** No User-Agent at all: assumed to be the AWS SDK for JavaScript v3, which sends none. */
  readonly assumed: boolean;
  /** What to upgrade to when `supportsImdsV2` is false because the version is too old. */
  readonly upgradeTo: string | null;
}

/** Longest User-Agent looked at: the client tokens are at the start; hostile input stays cheap. */
const maxUserAgentChars = 1024;

/**
 * Names the client and version behind an IMDS call's User-Agent and judges it against the
 * documented minimum for IMDSv2. `null` input (no User-Agent header) is taken to be the AWS SDK
 * for JavaScript v3 (which sends none), marked `assumed`. Returns null for a User-Agent it does
 * not recognise.
 */
export function parseSdkFromUserAgent(userAgent: string | null): SdkInfo | null {
  if (userAgent === null) {
    return {
      name: "aws-sdk-js-v3",
      displayName: "AWS SDK for JavaScript v3 (assumed: no User-Agent)",
      kind: "aws-sdk",
      version: null,
      minimumForImdsV2: null,
      supportsImdsV2: true,
      judgedBy: null,
      assumed: true,
      upgradeTo: null,
    };
  }
  const ua = userAgent.length > maxUserAgentChars ? userAgent.slice(0, maxUserAgentChars) : userAgent;
  return parseAwsClient(ua) ?? parseTool(ua);
}

/** Version of `product/version` anywhere in the User-Agent (case-insensitive), or null. */
function productVersion(ua: string, product: string): string | null {
  const pattern = new RegExp(`(?:^|[\\s;(,])${product}/([0-9][0-9A-Za-z.+_-]*)`, "i");
  return pattern.exec(ua)?.[1] ?? null;
}

function judge(
  name: string,
  displayName: string,
  version: string,
  minimum: string,
  upgradeTo: string,
  judgedBy: { name: string; version: string } | null = null,
  kind: ClientKind = "aws-sdk",
): SdkInfo {
  const judged = judgedBy?.version ?? version;
  const supportsImdsV2 = isComparableVersion(judged) ? compareVersions(judged, minimum) >= 0 : null;
  return {
    name,
    displayName,
    kind,
    version,
    minimumForImdsV2: minimum,
    supportsImdsV2,
    judgedBy,
    assumed: false,
    upgradeTo: supportsImdsV2 === false ? upgradeTo : null,
  };
}

function majorOf(version: string): number {
  return Number(/^\d+/.exec(version)?.[0] ?? "0");
}

function parseAwsClient(ua: string): SdkInfo | null {
  const min = minimumImdsV2Versions;
  const botocore = productVersion(ua, "botocore");
  const byBotocore = botocore === null ? null : { name: "botocore", version: botocore };

  const cli = productVersion(ua, "aws-cli");
  if (cli !== null) {
    if (majorOf(cli) >= 2) return judge("aws-cli-v2", "AWS CLI v2", cli, min.awsCli, "AWS CLI v2");
    return byBotocore
      ? judge("aws-cli-v1", "AWS CLI v1", cli, min.botocore, `AWS CLI ${min.awsCli} (botocore ${min.botocore}) or later`, byBotocore)
      : judge("aws-cli-v1", "AWS CLI v1", cli, min.awsCli, `AWS CLI ${min.awsCli} or later`);
  }
  const boto3 = productVersion(ua, "boto3");
  if (boto3 !== null) {
    const upgrade = `boto3 ${min.boto3} (botocore ${min.botocore}) or later`;
    return byBotocore
      ? judge("boto3", "boto3", boto3, min.botocore, upgrade, byBotocore)
      : judge("boto3", "boto3", boto3, min.boto3, upgrade);
  }
  if (botocore !== null) return judge("botocore", "botocore", botocore, min.botocore, `botocore ${min.botocore} or later`);

  const java = productVersion(ua, "aws-sdk-java");
  if (java !== null) {
    return majorOf(java) >= 2
      ? judge("aws-sdk-java-v2", "AWS SDK for Java 2.x", java, min.java2, `AWS SDK for Java 2.x ${min.java2} or later`)
      : judge("aws-sdk-java-v1", "AWS SDK for Java 1.x", java, min.java, `AWS SDK for Java ${min.java} or later`);
  }
  // aws-sdk-go-v2 before aws-sdk-go: the names share a prefix.
  const goV2 = productVersion(ua, "aws-sdk-go-v2");
  if (goV2 !== null) return judge("aws-sdk-go-v2", "AWS SDK for Go v2", goV2, min.goV2, `AWS SDK for Go v2 ${min.goV2} or later`);
  const go = productVersion(ua, "aws-sdk-go");
  if (go !== null) return judge("aws-sdk-go", "AWS SDK for Go", go, min.go, `AWS SDK for Go ${min.go} or later`);

  const javascript = productVersion(ua, "aws-sdk-nodejs") ?? productVersion(ua, "aws-sdk-js");
  if (javascript !== null) {
    return majorOf(javascript) >= 3
      ? judge("aws-sdk-js-v3", "AWS SDK for JavaScript v3", javascript, min.javascript, "AWS SDK for JavaScript v3")
      : judge("aws-sdk-js-v2", "AWS SDK for JavaScript v2", javascript, min.javascript, `AWS SDK for JavaScript ${min.javascript} or later (or v3)`);
  }
  // PowerShell before .NET: AWS Tools for PowerShell also names the .NET SDK it bundles.
  const powershell = productVersion(ua, "AWSPowerShell(?:\\.NetCore)?") ?? productVersion(ua, "AWS\\.Tools\\.[A-Za-z.]+");
  if (powershell !== null) {
    return judge("aws-tools-powershell", "AWS Tools for PowerShell", powershell, min.powershell, `AWS Tools for PowerShell ${min.powershell} or later`);
  }
  const dotnet = dotnetVersion(ua);
  if (dotnet !== null) return judge("aws-sdk-dotnet", "AWS SDK for .NET", dotnet, min.dotnet, `AWS SDK for .NET ${min.dotnet} or later`);

  const ruby = /(?:^|\s)aws-sdk-ruby(\d*)\/([0-9][0-9A-Za-z.+_-]*)/i.exec(ua);
  if (ruby !== null) {
    // aws-sdk-ruby3/<aws-sdk-core version>; ruby2 and the unnumbered v1 are older SDK generations.
    return judge("aws-sdk-ruby", `AWS SDK for Ruby${ruby[1] ? ` v${ruby[1]}` : ""}`, ruby[2]!, min.ruby, `AWS SDK for Ruby v3 (aws-sdk-core ${min.ruby} or later)`);
  }
  const php = productVersion(ua, "aws-sdk-php");
  if (php !== null) return judge("aws-sdk-php", "AWS SDK for PHP", php, min.php, `AWS SDK for PHP ${min.php} or later`);
  const cpp = productVersion(ua, "aws-sdk-cpp");
  if (cpp !== null) return judge("aws-sdk-cpp", "AWS SDK for C++", cpp, min.cpp, `AWS SDK for C++ ${min.cpp} or later`);
  const cloudInit = productVersion(ua, "cloud-init");
  if (cloudInit !== null) {
    return judge("cloud-init", "cloud-init", cloudInit, cloudInitMinimumImdsV2Version, `cloud-init ${cloudInitMinimumImdsV2Version} or later`, null, "agent");
  }
  return null;
}

/**
 * .NET: `aws-sdk-dotnet-coreclr/3.7.108.0 aws-sdk-dotnet-core/3.7.108.2 ...`; IMDS calls made by
 * the SDK core leave the first version empty (`aws-sdk-dotnet-coreclr/ aws-sdk-dotnet-core/3.3.31.8`),
 * so the first non-empty version wins.
 */
function dotnetVersion(ua: string): string | null {
  const pattern = /(?:^|\s)aws-sdk-dotnet-[A-Za-z0-9]+\/(\S*)/gi;
  let sawDotnet = false;
  for (const match of ua.matchAll(pattern)) {
    sawDotnet = true;
    const version = match[1]!;
    if (/^\d/.test(version)) return version;
  }
  if (!sawDotnet) return null;
  return /md\/aws-sdk-dotnet-core#([0-9][0-9.]*)/i.exec(ua)?.[1] ?? "";
}

/**
 * Clients that never ask for a token by themselves (HTTP tools and libraries' default
 * User-Agents), matched at the start of the User-Agent. `name` is the stable identifier.
 */
const httpTools = [
  { pattern: /^curl\/(\S*)/i, name: "curl", displayName: "curl" },
  { pattern: /^wget\/(\S*)/i, name: "wget", displayName: "Wget" },
  { pattern: /^python-urllib\/(\S*)/i, name: "python-urllib", displayName: "Python urllib" },
  { pattern: /^python-requests\/(\S*)/i, name: "python-requests", displayName: "Python requests" },
  { pattern: /^python-httpx\/(\S*)/i, name: "python-httpx", displayName: "Python httpx" },
  { pattern: /^aiohttp\/(\S*)/i, name: "aiohttp", displayName: "Python aiohttp" },
  { pattern: /^go-http-client\/(\S*)/i, name: "go-http-client", displayName: "Go net/http" },
  { pattern: /^java\/(\S*)/i, name: "java-http", displayName: "Java HTTP client" },
  { pattern: /^apache-httpclient\/(\S*)/i, name: "apache-httpclient", displayName: "Apache HttpClient" },
  { pattern: /^okhttp\/(\S*)/i, name: "okhttp", displayName: "OkHttp" },
  { pattern: /^node-fetch(?:\/(\S*))?/i, name: "node-fetch", displayName: "node-fetch" },
  { pattern: /^node(?:\/(\S*))?$/i, name: "node-fetch", displayName: "Node.js fetch" },
  { pattern: /^undici(?:\/(\S*))?/i, name: "undici", displayName: "undici" },
  { pattern: /^axios\/(\S*)/i, name: "axios", displayName: "axios" },
  { pattern: /^libwww-perl\/(\S*)/i, name: "libwww-perl", displayName: "Perl LWP" },
  { pattern: /^ruby$/i, name: "ruby-net-http", displayName: "Ruby Net::HTTP" },
  { pattern: /^faraday v?(\S*)/i, name: "faraday", displayName: "Ruby Faraday" },
  { pattern: /^httpie\/(\S*)/i, name: "httpie", displayName: "HTTPie" },
  { pattern: /\bWindowsPowerShell\/(\S*)/i, name: "powershell-web-cmdlets", displayName: "PowerShell Invoke-WebRequest" },
  { pattern: /^Mozilla\/5\.0 .*\bPowerShell\/(\S*)/i, name: "powershell-web-cmdlets", displayName: "PowerShell Invoke-WebRequest" },
] as const;

function parseTool(ua: string): SdkInfo | null {
  for (const tool of httpTools) {
    const match = tool.pattern.exec(ua);
    if (match === null) continue;
    return {
      name: tool.name,
      displayName: tool.displayName,
      kind: "http-tool",
      version: match[1] !== undefined && match[1] !== "" ? match[1] : null,
      minimumForImdsV2: null,
      supportsImdsV2: false,
      judgedBy: null,
      assumed: false,
      upgradeTo: null,
    };
  }
  const urllib3 = /^python-urllib3\/(\S*)/i.exec(ua);
  if (urllib3 !== null) {
    // botocore's InstanceMetadataFetcher used directly sends this; so does a hand-written script.
    return {
      name: "python-urllib3",
      displayName: "python-urllib3 (botocore's fetcher or a script)",
      kind: "http-library",
      version: urllib3[1] ?? null,
      minimumForImdsV2: null,
      supportsImdsV2: null,
      judgedBy: null,
      assumed: false,
      upgradeTo: null,
    };
  }
  return null;
}
