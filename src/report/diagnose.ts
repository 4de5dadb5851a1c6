import type { CallerAggregate } from "./caller-aggregate.js";
import { truncateText } from "./format.js";
import type { SdkInfo } from "./user-agent.js";
import { parseSdkFromUserAgent } from "./user-agent.js";
import { describeContainer } from "./container-names.js";
import type { FallbackCause, ReportContainer, V1Reason } from "./types.js";

export interface Diagnosis {
  readonly sdk: SdkInfo | null;
  readonly reason: V1Reason | null;
  readonly fallbackCause: FallbackCause | null;
  readonly inContainer: boolean | null;
  readonly advice: string;
}

/** Command lines quoted in advice are cut to this; the report lists the full (capped) one. */
const maxQuotedCommandChars = 160;

/**
 * The SDK of a caller: the first of its User-Agents that names an AWS client wins over a tool
 * (a process may use both boto3 and curl), and a tool over an unknown User-Agent.
 */
export function sdkOfCaller(userAgents: readonly (string | null)[]): SdkInfo | null {
  let best: SdkInfo | null = null;
  for (const userAgent of userAgents) {
    const sdk = parseSdkFromUserAgent(userAgent);
    if (sdk === null) continue;
    if (best === null || rank(sdk) > rank(best)) best = sdk;
  }
  return best;
}

function rank(sdk: SdkInfo): number {
  if (sdk.assumed) return 1;
  return sdk.kind === "aws-sdk" || sdk.kind === "agent" ? 4 : sdk.kind === "http-tool" ? 3 : 2;
}

/**
 * Why a caller uses IMDSv1, in this order of evidence:
 * 1. a tool (curl, wget, urllib, ...): `no-token-support`: the calls are written by hand, even
 *    when one of its token PUTs failed too (curl never falls back by itself);
 * 2. a failed token PUT (no answer, 403, 404, 405) with IMDSv1 calls at or after it: `fallback`;
 * 3. an SDK below its documented minimum: `sdk-too-old`;
 * 4. an SDK at or above its minimum (not merely assumed) still calling IMDSv1: `fallback`;
 * 5. a token PUT answered 200 but no IMDSv2 call ever: `fallback` (the answer was lost);
 * 6. anything else (mixed v1/v2, no User-Agent without a token PUT, unknown clients): `unknown`.
 */
export function diagnoseCaller(caller: CallerAggregate): Diagnosis {
  const sdk = sdkOfCaller(caller.userAgents);
  const process = caller.process;
  const container = process?.container ?? null;
  const inContainer = process === null ? null : container !== null || process.kubernetesPodUid !== null;
  if (caller.v1 === 0) {
    return { sdk, reason: null, fallbackCause: null, inContainer, advice: "Uses IMDSv2 only: nothing to change." };
  }
  const failedCause = failedTokenRequestCause(caller);
  let reason: V1Reason;
  let fallbackCause: FallbackCause | null = null;
  if (sdk?.kind === "http-tool") {
    reason = "no-token-support";
  } else if (failedCause !== null && caller.fellBackAfterFailedTokenRequest) {
    reason = "fallback";
    fallbackCause = failedCause;
  } else if (sdk !== null && sdk.supportsImdsV2 === false) {
    reason = "sdk-too-old";
  } else if (sdk !== null && sdk.supportsImdsV2 === true && !sdk.assumed) {
    reason = "fallback";
    fallbackCause = caller.answeredTokenRequests > 0 && caller.v2 === 0 ? "put-answer-lost" : "put-not-seen";
  } else if (caller.answeredTokenRequests > 0 && caller.v2 === 0) {
    reason = "fallback";
    fallbackCause = "put-answer-lost";
  } else {
    reason = "unknown";
  }
  const advice = adviceText({
    reason,
    fallbackCause,
    failedCause,
    sdk,
    inContainer,
    container,
    where: locate(caller),
    v1: caller.v1,
    v2: caller.v2,
    sendsTokensSometimes: caller.v2 > 0 || caller.answeredTokenRequests > 0,
    userAgent: caller.userAgents[0],
    allV1Refused: (caller.v1Statuses.get(401) ?? 0) === caller.v1,
    unseenTokenAnswers: caller.unseenTokenAnswers,
  });
  return { sdk, reason, fallbackCause, inContainer, advice };
}

/** What the advice for an IMDSv1 caller (or a fix: many callers of one program) rests on. */
export interface AdviceInput {
  readonly reason: V1Reason;
  readonly fallbackCause: FallbackCause | null;
  /** The most telling failed token PUT, also for a tool (mentioned, not the reason). */
  readonly failedCause: FallbackCause | null;
  readonly sdk: SdkInfo | null;
  readonly inContainer: boolean | null;
  /** The container, pod or task it runs in, when named: the advice names the image to rebuild. */
  readonly container: ReportContainer | null;
  /** Where to find it: "it runs as: COMMAND", "it calls from ADDRESS; ...", or a fix's program. */
  readonly where: string;
  readonly v1: number;
  readonly v2: number;
  /** Some calls carried a token (or a token PUT was answered): mixed IMDSv1 and IMDSv2. */
  readonly sendsTokensSometimes: boolean;
  /** The first User-Agent seen (null: none sent; undefined: no call). */
  readonly userAgent: string | null | undefined;
  /** Every IMDSv1 call got 401: tokens are already required and it fails today. */
  readonly allV1Refused: boolean;
  /** Token PUTs whose answers could not be observed (event `responseMissing` "unobserved"). */
  readonly unseenTokenAnswers: number;
}

/** One paragraph: what to change, and where. */
export function adviceText(input: AdviceInput): string {
  const { sdk, where } = input;
  let advice: string;
  switch (input.reason) {
    case "no-token-support": {
      const also = input.failedCause === null ? "" : ` (one of its token PUTs also failed: ${describeFailedTokenRequest(input.failedCause)})`;
      advice = `${sdk?.displayName ?? "It"} makes IMDSv1 calls written by hand (${where}): make the command fetch a token first (PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds) and send it as X-aws-ec2-metadata-token on every call${also}${rebuildNote(input.container)}.`;
      break;
    }
    case "fallback":
      advice = fallbackAdvice(input.fallbackCause ?? "put-not-seen", input.inContainer, sdk, input.container);
      break;
    case "sdk-too-old": {
      const version = sdk?.version === null || sdk?.version === undefined ? "" : ` ${sdk.version}`;
      const judged = sdk?.judgedBy === null || sdk?.judgedBy === undefined ? "" : ` (${sdk.judgedBy.name} ${sdk.judgedBy.version})`;
      advice = `${sdk?.displayName ?? "Its SDK"}${version}${judged} predates IMDSv2 support (minimum ${sdk?.minimumForImdsV2 ?? "unknown"}): upgrade it to ${sdk?.upgradeTo ?? "a current version"}${rebuildNote(input.container)} (${where}).`;
      break;
    }
    case "unknown":
      advice = unknownAdvice(input);
      break;
  }
  if (input.unseenTokenAnswers > 0) {
    // Said, not guessed: an answer that was not seen is not an answer that never came.
    const which = input.unseenTokenAnswers === 1 ? "The answer to one of its token PUTs" : `The answers to ${input.unseenTokenAnswers} of its token PUTs`;
    advice += ` ${which} could not be observed (packets were lost or the capture ended first), so whether IMDS answered them is unknown; a capture without losses would tell.`;
  }
  return input.allV1Refused ? `Fails today (IMDS answers its IMDSv1 calls with 401: tokens are required): ${advice}` : advice;
}

/** "; rebuild image X and redeploy": when the change is in an image. */
function rebuildNote(container: ReportContainer | null): string {
  return container?.image === null || container?.image === undefined ? "" : `, then rebuild image ${container.image} and redeploy`;
}

/** The most telling failed token PUT of a caller, or null when none failed. */
function failedTokenRequestCause(caller: CallerAggregate): FallbackCause | null {
  const failed = caller.failedTokenRequests;
  if (failed.forwardedFor > 0) return "put-forwarded-for";
  if (failed.unanswered > 0) return "put-unanswered";
  if (failed.status403 > 0) return "put-403";
  if (failed.status404 > 0) return "put-404";
  if (failed.status405 > 0) return "put-405";
  return null;
}

function describeFailedTokenRequest(cause: FallbackCause): string {
  switch (cause) {
    case "put-forwarded-for":
      return "403 for carrying X-Forwarded-For";
    case "put-unanswered":
      return "no answer";
    case "put-403":
      return "403";
    case "put-404":
      return "404";
    case "put-405":
      return "405";
    case "put-answer-lost":
      return "answered, but the token was never used";
    case "put-not-seen":
      return "not seen";
  }
}

const hopLimitFix = "set the PUT response hop limit to 2 (--http-put-response-hop-limit 2)";
const proxyFix = "exclude the metadata address from the proxy (NO_PROXY=169.254.169.254,fd00:ec2::254)";

function fallbackAdvice(cause: FallbackCause, inContainer: boolean | null, sdk: SdkInfo | null, container: ReportContainer | null): string {
  switch (cause) {
    case "put-forwarded-for":
      return `Its token PUT carried X-Forwarded-For and IMDS refused it (403), so it fell back to IMDSv1: an HTTP proxy is in the path; ${proxyFix}.`;
    case "put-403":
      return `Its token PUT was refused (403), so it fell back to IMDSv1: usually an HTTP proxy in the path (IMDS refuses token PUTs that carry X-Forwarded-For); ${proxyFix}.`;
    case "put-404":
    case "put-405":
      return `Its token PUT got ${cause === "put-404" ? "404 (Not Found)" : "405 (Method Not Allowed)"}, so it fell back to IMDSv1: whatever answers for IMDS here (a metadata proxy such as kube2iam or kiam, or an emulator) does not support IMDSv2 tokens; upgrade or reconfigure it to pass PUT /latest/api/token through.`;
    case "put-unanswered":
      if (inContainer === true) {
        const inside = container === null ? "a container" : describeContainer(container);
        return `Its token PUT got no answer, so it fell back to IMDSv1: it runs in ${inside}, where a PUT response hop limit of 1 drops the answer; ${hopLimitFix} on its hosts: the fix is the hop limit, not the SDK.`;
      }
      if (inContainer === false) {
        return "Its token PUT got no answer, so it fell back to IMDSv1: it runs on the instance itself, so the hop limit is not the cause (unless it has its own network namespace); look for a firewall rule or proxy that drops PUT /latest/api/token.";
      }
      return `Its token PUT got no answer, so it fell back to IMDSv1: if it runs in a container (or its own network namespace), the PUT response hop limit of 1 drops the answer, so ${hopLimitFix}; otherwise a firewall rule or proxy drops the PUT.`;
    case "put-answer-lost":
      return `Its token PUT was answered but it never sent a token, so the answer did not reach it and it fell back to IMDSv1: typical of a container behind a PUT response hop limit of 1; ${hopLimitFix}.`;
    case "put-not-seen": {
      const name = sdk === null ? "Its SDK" : `${sdk.displayName}${sdk.version === null ? "" : ` ${sdk.version}`}`;
      return `${name} supports IMDSv2, so its IMDSv1 calls are a fallback whose failed token PUT is not in the window (some SDKs remember a failure and skip the PUT): check for an HTTP proxy in the path (NO_PROXY=169.254.169.254,fd00:ec2::254) and, in a container, ${hopLimitFix}.`;
    }
  }
}

function unknownAdvice(input: AdviceInput): string {
  const { sdk, where } = input;
  if (input.sendsTokensSometimes) {
    return `It sends a token on some calls but not on others (${input.v1} IMDSv1, ${input.v2} IMDSv2; ${where}): find the code path that omits the X-aws-ec2-metadata-token header.`;
  }
  if (sdk?.assumed === true) {
    const tokenRequests = input.unseenTokenAnswers > 0 ? "no answered token request seen" : "no token request seen";
    return `No User-Agent and ${tokenRequests} (${where}): the AWS SDK for JavaScript v3 sends no User-Agent (and some versions skip the PUT after one 403), but a hand-written client may send none either; find the process and make it use IMDSv2.`;
  }
  if (sdk !== null && sdk.kind === "http-library") {
    return `${sdk.displayName} made IMDSv1 calls and no token request (${where}): botocore's own fetcher asks for a token first (botocore 1.13.25 or later), so this is more likely a hand-written script; find it and make it use IMDSv2.`;
  }
  const described = typeof input.userAgent === "string" ? `User-Agent ${truncateText(input.userAgent, 80)}; ` : "";
  return `Unrecognised client (${described}${where}): find it and make it use IMDSv2 (an AWS SDK at or above its documented minimum, or a token PUT before its calls).`;
}

/** Where to find the caller, for advice: its container and command line live, its address offline. */
function locate(caller: CallerAggregate): string {
  const process = caller.process;
  if (process !== null) {
    const command = process.cmdline.length > 0 ? process.cmdline.join(" ") : (process.exe ?? process.comm);
    const inside = process.container === null ? "" : `in ${describeContainer(process.container)}, `;
    return `it runs ${inside}as: ${truncateText(command, maxQuotedCommandChars)}`;
  }
  const address = caller.clientIps[0] ?? "an unknown address";
  return `it calls from ${address}; a live capture would name the process`;
}
