import { describe, it, expect, afterEach } from "vitest";
import { spawn } from "node:child_process";
import type { ChildProcessByStdio } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import type { OutgoingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";

// The fake IMDS is tested on 127.0.0.1 with a free port: no namespace, no IMDS address.
const fakeImdsPath = join(import.meta.dirname, "fake-imds.mjs");

interface LogEntry {
  seq: number;
  connection: number;
  method: string;
  path: string;
  httpVersion: string;
  kind: string;
  userAgent: string | null;
  tokenTtlSeconds: number | null;
  forwardedFor: boolean;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  status: number | null;
  receivedAt: number;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface RunningImds {
  port: number;
  logPath: string;
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** SIGTERM, wait for exit; returns the exit code and the log entries. */
  stop: () => Promise<{ exitCode: number | null; entries: LogEntry[]; logText: string }>;
}

const running: RunningImds[] = [];
const tempDirs: string[] = [];

afterEach(() => {
  for (const imds of running.splice(0)) imds.child.kill("SIGKILL");
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function startImds(mode: string): Promise<RunningImds> {
  const dir = mkdtempSync(join(tmpdir(), "fake-imds-test-"));
  tempDirs.push(dir);
  const logPath = join(dir, "log.ndjson");
  const child = spawn(process.execPath, [fakeImdsPath, "--mode", mode, "--log", logPath, "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on 127\.0\.0\.1:(\d+)\nready\n/.exec(out);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    });
    child.on("exit", (code) => {
      reject(new Error(`fake IMDS exited early with ${String(code)}: ${out}`));
    });
  });
  const stop = async () => {
    const exitCode = await new Promise<number | null>((resolve) => {
      child.on("exit", resolve);
      child.kill("SIGTERM");
    });
    const logText = readFileSync(logPath, "utf8");
    const entries = logText
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as LogEntry);
    return { exitCode, entries, logText };
  };
  const imds = { port, logPath, child, stop };
  running.push(imds);
  return imds;
}

function send(
  port: number,
  method: string,
  path: string,
  headers: OutgoingHttpHeaders = {},
  options: { agent?: Agent; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers, agent: options.agent ?? false });
    if (options.timeoutMs !== undefined) {
      req.setTimeout(options.timeoutMs, () => {
        req.destroy(new Error("timeout"));
      });
    }
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.end();
  });
}

const ttlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
const tokenHeader = "X-aws-ec2-metadata-token";

describe("fake IMDS, tokens optional", () => {
  it("serves v1 and v2, validates tokens and TTLs, and logs every request without secrets", async () => {
    const imds = await startImds("optional");
    const { port } = imds;

    const v1 = await send(port, "GET", "/latest/meta-data/instance-id", { "User-Agent": "test/1" });
    expect(v1).toMatchObject({ status: 200, body: "i-0123456789abcdef0" });
    expect(v1.headers["server"]).toBe("EC2ws");

    const tokenReply = await send(port, "PUT", "/latest/api/token", { [ttlHeader]: "60" });
    expect(tokenReply.status).toBe(200);
    expect(tokenReply.headers["x-aws-ec2-metadata-token-ttl-seconds"]).toBe("60");
    const token = tokenReply.body;
    expect(token).toMatch(/^AQAEA[A-Za-z0-9_-]{52}==$/);

    const roles = await send(port, "GET", "/latest/meta-data/iam/security-credentials/", { [tokenHeader]: token });
    expect(roles).toMatchObject({ status: 200, body: "imds-analyzer-test-role" });
    const credentialsReply = await send(port, "GET", "/latest/meta-data/iam/security-credentials/imds-analyzer-test-role", {
      [tokenHeader]: token,
    });
    const credentials = JSON.parse(credentialsReply.body) as {
      Code: string;
      Type: string;
      AccessKeyId: string;
      SecretAccessKey: string;
      Token: string;
      Expiration: string;
    };
    expect(credentials.Code).toBe("Success");
    expect(credentials.Type).toBe("AWS-HMAC");
    expect(credentials.AccessKeyId).toBe("ASIAFAKEIMDSANALYZER");
    expect(credentials.SecretAccessKey).toMatch(/^FAKESECRET[A-Za-z0-9]{30}$/);
    expect(credentials.Token).toMatch(/^FAKESECRET[A-Za-z0-9]{1000}$/);
    const expiresInMs = Date.parse(credentials.Expiration) - Date.now();
    expect(expiresInMs).toBeGreaterThan(59 * 60 * 1000);
    expect(expiresInMs).toBeLessThanOrEqual(60 * 60 * 1000);

    expect((await send(port, "GET", "/latest/meta-data/instance-id", { [tokenHeader]: "AQAEAwrong==" })).status).toBe(401);
    expect((await send(port, "PUT", "/latest/api/token")).status).toBe(400);
    expect((await send(port, "PUT", "/latest/api/token", { [ttlHeader]: "0" })).status).toBe(400);
    expect((await send(port, "PUT", "/latest/api/token", { [ttlHeader]: "21601" })).status).toBe(400);
    expect((await send(port, "PUT", "/latest/api/token", { [ttlHeader]: "21600" })).status).toBe(200);
    expect((await send(port, "PUT", "/latest/api/token", { [ttlHeader]: "60", "X-Forwarded-For": "203.0.113.7" })).status).toBe(403);
    const missing = await send(port, "GET", "/latest/meta-data/nothing-here");
    expect(missing.status).toBe(404);
    expect(missing.body).toContain("<title>404 - Not Found</title>");
    expect(await send(port, "GET", "/latest/meta-data/placement/availability-zone/")).toMatchObject({ status: 200, body: "us-east-1a" });
    expect(await send(port, "GET", "/latest/meta-data/placement/region")).toMatchObject({ status: 200, body: "us-east-1" });
    expect((await send(port, "GET", "/latest/user-data")).body).toContain("FAKEUSERDATA");
    const document = JSON.parse((await send(port, "GET", "/latest/dynamic/instance-identity/document")).body) as Record<string, unknown>;
    expect(document).toMatchObject({ region: "us-east-1", instanceId: "i-0123456789abcdef0", availabilityZone: "us-east-1a" });
    const listing = await send(port, "GET", "/latest/meta-data/");
    expect(listing.body.split("\n")).toEqual(expect.arrayContaining(["ami-id", "iam/", "instance-id", "placement/"]));
    // An empty token header is no token: served as v1.
    expect((await send(port, "GET", "/latest/meta-data/ami-id", { [tokenHeader]: "" })).status).toBe(200);

    const { exitCode, entries, logText } = await imds.stop();
    expect(exitCode).toBe(0);
    expect(entries.map((entry) => `${entry.kind} ${entry.method} ${entry.path} ${String(entry.status)}`)).toEqual([
      "v1 GET /latest/meta-data/instance-id 200",
      "token-request PUT /latest/api/token 200",
      "v2 GET /latest/meta-data/iam/security-credentials/ 200",
      "v2 GET /latest/meta-data/iam/security-credentials/imds-analyzer-test-role 200",
      "v2 GET /latest/meta-data/instance-id 401",
      "token-request PUT /latest/api/token 400",
      "token-request PUT /latest/api/token 400",
      "token-request PUT /latest/api/token 400",
      "token-request PUT /latest/api/token 200",
      "token-request PUT /latest/api/token 403",
      "v1 GET /latest/meta-data/nothing-here 404",
      "v1 GET /latest/meta-data/placement/availability-zone/ 200",
      "v1 GET /latest/meta-data/placement/region 200",
      "v1 GET /latest/user-data 200",
      "v1 GET /latest/dynamic/instance-identity/document 200",
      "v1 GET /latest/meta-data/ 200",
      "v1 GET /latest/meta-data/ami-id 200",
    ]);
    expect(entries.map((entry) => entry.seq)).toEqual(entries.map((_, index) => index));
    expect(entries.map((entry) => entry.tokenTtlSeconds).slice(5, 10)).toEqual([null, 0, 21601, 21600, 60]);
    expect(entries[9]?.forwardedFor).toBe(true);
    expect(entries[0]).toMatchObject({
      userAgent: "test/1",
      httpVersion: "1.1",
      clientIp: "127.0.0.1",
      serverIp: "127.0.0.1",
      serverPort: port,
    });
    expect(entries[1]?.userAgent).toBeNull();
    expect(logText).not.toContain(token);
    expect(logText).not.toContain("FAKESECRET");
    expect(logText).not.toContain("FAKEUSERDATA");
  });

  it("keeps connections alive and numbers them", async () => {
    const imds = await startImds("optional");
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    await send(imds.port, "GET", "/latest/meta-data/ami-id", {}, { agent });
    await send(imds.port, "GET", "/latest/meta-data/instance-id", {}, { agent });
    agent.destroy();
    await send(imds.port, "GET", "/latest/meta-data/hostname");
    const { entries } = await imds.stop();
    expect(entries.map((entry) => entry.connection)).toEqual([0, 0, 1]);
    expect(entries[0]?.clientPort).toBe(entries[1]?.clientPort);
    expect(entries[2]?.clientPort).not.toBe(entries[0]?.clientPort);
  });
});

describe("fake IMDS, other modes", () => {
  it("required: token-less GETs get 401, v2 works", async () => {
    const imds = await startImds("required");
    expect((await send(imds.port, "GET", "/latest/meta-data/instance-id")).status).toBe(401);
    const token = (await send(imds.port, "PUT", "/latest/api/token", { [ttlHeader]: "21600" })).body;
    expect((await send(imds.port, "GET", "/latest/meta-data/instance-id", { [tokenHeader]: token })).status).toBe(200);
    const { entries } = await imds.stop();
    expect(entries.map((entry) => `${entry.kind} ${String(entry.status)}`)).toEqual(["v1 401", "token-request 200", "v2 200"]);
  });

  for (const status of [403, 404, 405]) {
    it(`put-${String(status)}: the token PUT fails with ${String(status)}, token-less GETs are served`, async () => {
      const imds = await startImds(`put-${String(status)}`);
      expect((await send(imds.port, "PUT", "/latest/api/token", { [ttlHeader]: "21600" })).status).toBe(status);
      expect((await send(imds.port, "GET", "/latest/meta-data/instance-id")).status).toBe(200);
      const { entries } = await imds.stop();
      expect(entries.map((entry) => `${entry.kind} ${String(entry.status)}`)).toEqual([`token-request ${String(status)}`, "v1 200"]);
    });
  }

  it("put-hang: the token PUT is never answered and is logged with status null when the client gives up", async () => {
    const imds = await startImds("put-hang");
    await expect(send(imds.port, "PUT", "/latest/api/token", { [ttlHeader]: "21600" }, { timeoutMs: 300 })).rejects.toThrow("timeout");
    expect((await send(imds.port, "GET", "/latest/meta-data/instance-id")).status).toBe(200);
    const { exitCode, entries } = await imds.stop();
    expect(exitCode).toBe(0);
    expect(entries.map((entry) => `${entry.kind} ${String(entry.status)}`)).toEqual(["token-request null", "v1 200"]);
  });

  it("put-hang: a PUT still hanging at SIGTERM is logged with status null", async () => {
    const imds = await startImds("put-hang");
    const hanging = send(imds.port, "PUT", "/latest/api/token", { [ttlHeader]: "21600" }).catch((error: unknown) => error);
    // Give the PUT time to reach the server: a request on another connection answered, plus slack.
    await send(imds.port, "GET", "/latest/meta-data/ami-id");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { exitCode, entries } = await imds.stop();
    expect(await hanging).toBeInstanceOf(Error);
    expect(exitCode).toBe(0);
    expect(entries.map((entry) => `${entry.kind} ${String(entry.status)}`).sort()).toEqual(["token-request null", "v1 200"]);
  });

  it("refuses an unknown mode", async () => {
    await expect(startImds("sometimes")).rejects.toThrow(/exited early with 1/);
  });
});
