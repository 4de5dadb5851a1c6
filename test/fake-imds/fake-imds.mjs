// @ts-check
/**
 * A fake EC2 Instance Metadata Service for tests and golden captures. It behaves like the real
 * one where the analyzer can see it on the wire (FIELD-NOTES.md): `Server: EC2ws`, token PUTs
 * that need a TTL header, 401 for token-less GETs when tokens are required, 403 for a PUT that
 * carries X-Forwarded-For, keep-alive connections. Run it only inside a test network namespace:
 * it binds the real IMDS addresses.
 *
 *   node test/fake-imds/fake-imds.mjs --mode MODE --log FILE [--listen ADDR:PORT ...]
 *
 * Modes: optional (v1 and v2 served), required (token-less GET -> 401), put-403 / put-404 /
 * put-405 (the token PUT fails with that status, token-less GETs are served), put-hang (the token
 * PUT is never answered). Default listeners: 169.254.169.254:80 and [fd00:ec2::254]:80; port 0
 * picks a free port. Prints "listening on ADDR:PORT" per listener, then "ready".
 *
 * The log (--log) is the ground truth for captures: one JSON line per request, written when the
 * response has been sent (or, when no response was sent, when the connection closed: status
 * null). It never holds token or credential values.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

/** @typedef {"optional" | "required" | "put-403" | "put-404" | "put-405" | "put-hang"} Mode */
/** @typedef {"token-request" | "v2" | "v1"} RequestKind */
/**
 * @typedef {object} LogEntry
 * @property {number} seq order in which the server received the request (0-based, all listeners)
 * @property {number} connection order in which the server accepted the connection (0-based)
 * @property {string} method
 * @property {string} path request target exactly as sent
 * @property {string} httpVersion "1.1" or "1.0"
 * @property {RequestKind} kind
 * @property {string | null} userAgent
 * @property {number | null} tokenTtlSeconds for token requests: the TTL header as a number (null if absent or not a number)
 * @property {boolean} forwardedFor the request carried X-Forwarded-For
 * @property {string} clientIp
 * @property {number} clientPort
 * @property {string} serverIp
 * @property {number} serverPort
 * @property {number | null} status null when no response was sent
 * @property {number} receivedAt epoch milliseconds when the request head was parsed
 */
/**
 * @typedef {object} SocketAddresses
 * @property {number} connection
 * @property {string} clientIp
 * @property {number} clientPort
 * @property {string} serverIp
 * @property {number} serverPort
 */

/** @type {readonly Mode[]} */
const modes = ["optional", "required", "put-403", "put-404", "put-405", "put-hang"];
/** Status the token PUT gets in the put-NNN modes. */
const failedPutStatus = /** @type {const} */ ({ "put-403": 403, "put-404": 404, "put-405": 405 });
const defaultListen = ["169.254.169.254:80", "[fd00:ec2::254]:80"];
const tokenPath = "/latest/api/token";
const tokenHeader = "x-aws-ec2-metadata-token";
const tokenTtlHeader = "x-aws-ec2-metadata-token-ttl-seconds";
const maxTokenTtlSeconds = 21600;
const credentialLifetimeMs = 60 * 60 * 1000;
const roleName = "imds-analyzer-test-role";
const instanceId = "i-0123456789abcdef0";
const region = "us-east-1";
const availabilityZone = "us-east-1a";
/** Tokens kept at most; real IMDS has no such list, but a test server must not grow without end. */
const maxLiveTokens = 10000;

/** Letters and digits, for secrets that look random but carry a searchable marker. */
function randomText(/** @type {number} */ length) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(length);
  let text = "";
  for (const byte of bytes) text += alphabet.charAt(byte % alphabet.length);
  return text;
}

/** Real IMDS timestamps have second precision and a Z suffix. */
function isoSeconds(/** @type {number} */ epochMs) {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** @returns {{ mode: Mode, logPath: string, listen: string[] }} */
function parseCommandLine() {
  const { values } = parseArgs({
    options: {
      mode: { type: "string", default: "optional" },
      log: { type: "string" },
      listen: { type: "string", multiple: true },
    },
    strict: true,
  });
  const mode = modes.find((candidate) => candidate === values.mode);
  if (mode === undefined) throw new Error(`--mode must be one of ${modes.join(", ")}; got ${values.mode}`);
  if (values.log === undefined) throw new Error("--log FILE is required");
  return { mode, logPath: values.log, listen: values.listen ?? defaultListen };
}

/** "1.2.3.4:80" or "[::1]:80" -> host and port. */
function parseListenAddress(/** @type {string} */ text) {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !(port >= 0 && port < 65536)) throw new Error(`--listen wants ADDR:PORT or [ADDR6]:PORT, got ${text}`);
  return { host, port };
}

const startedAtMs = Date.now();
const lastUpdated = isoSeconds(startedAtMs);
/** Distinctive secrets: a test searches every output of the analyzer for "FAKESECRET". */
const credentials = {
  Code: "Success",
  LastUpdated: lastUpdated,
  Type: "AWS-HMAC",
  AccessKeyId: "ASIAFAKEIMDSANALYZER",
  SecretAccessKey: `FAKESECRET${randomText(30)}`,
  Token: `FAKESECRET${randomText(1000)}`,
  Expiration: isoSeconds(startedAtMs + credentialLifetimeMs),
};
const identityDocument = {
  accountId: "123456789012",
  architecture: "x86_64",
  availabilityZone,
  billingProducts: null,
  devpayProductCodes: null,
  marketplaceProductCodes: null,
  imageId: "ami-0abcdef1234567890",
  instanceId,
  instanceType: "t3.micro",
  kernelId: null,
  pendingTime: lastUpdated,
  privateIp: "10.0.0.10",
  ramdiskId: null,
  region,
  version: "2017-09-30",
};

/**
 * The served tree: a string is a leaf, an object a directory whose listing names its children
 * (directories with a trailing slash), as real IMDS does.
 * @typedef {{ [name: string]: string | Tree }} Tree
 */
/** @type {Tree} */
const root = {
  latest: {
    "meta-data": {
      "ami-id": identityDocument.imageId,
      hostname: "ip-10-0-0-10.ec2.internal",
      iam: {
        info: JSON.stringify(
          {
            Code: "Success",
            LastUpdated: lastUpdated,
            InstanceProfileArn: `arn:aws:iam::123456789012:instance-profile/${roleName}`,
            InstanceProfileId: "AIPAFAKEIMDSANALYZER",
          },
          null,
          2,
        ),
        "security-credentials": { [roleName]: JSON.stringify(credentials, null, 2) },
      },
      "instance-id": instanceId,
      "instance-type": identityDocument.instanceType,
      "local-hostname": "ip-10-0-0-10.ec2.internal",
      "local-ipv4": identityDocument.privateIp,
      mac: "0e:00:00:00:00:01",
      placement: { "availability-zone": availabilityZone, region },
      "reservation-id": "r-0123456789abcdef0",
      "security-groups": "default",
    },
    dynamic: {
      "instance-identity": { document: JSON.stringify(identityDocument, null, 2) },
    },
    "user-data": "#!/bin/sh\necho FAKEUSERDATA marker for secret-leak tests\n",
  },
};

/** @returns {string | undefined} a leaf's content or a directory listing */
function lookup(/** @type {string} */ pathname) {
  /** @type {string | Tree | undefined} */
  let node = root;
  // A trailing slash is accepted on leaves too: AWS CLI v2 asks for ".../availability-zone/".
  for (const part of pathname.split("/").filter((segment) => segment !== "")) {
    if (typeof node !== "object") return undefined;
    node = Object.hasOwn(node, part) ? node[part] : undefined;
  }
  if (node === undefined || typeof node === "string") return node;
  return Object.entries(node)
    .map(([name, child]) => (typeof child === "string" ? name : `${name}/`))
    .join("\n");
}

/** The body real IMDS sends with its error statuses. */
function errorPage(/** @type {number} */ status, /** @type {string} */ reason) {
  return [
    '<?xml version="1.0" encoding="iso-8859-1"?>',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"',
    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
    " <head>",
    `  <title>${status} - ${reason}</title>`,
    " </head>",
    " <body>",
    `  <h1>${status} - ${reason}</h1>`,
    " </body>",
    "</html>",
    "",
  ].join("\n");
}

/** Strips the scheme and authority of an absolute-form target; keeps the query. */
function targetPath(/** @type {string} */ target) {
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  return absolute === null ? target : target.slice(absolute[0].length) || "/";
}

/** The TTL header's value as a whole number of seconds, or null when it is not one. */
function parseTtlSeconds(/** @type {string | string[] | undefined} */ value) {
  return typeof value === "string" && /^\s*\d{1,9}\s*$/.test(value) ? Number(value) : null;
}

/**
 * @param {string} method
 * @param {string} target
 * @param {import("node:http").IncomingHttpHeaders} headers
 * @returns {RequestKind}
 */
function classify(method, target, headers) {
  if (method === "PUT" && targetPath(target) === tokenPath) return "token-request";
  const token = headers[tokenHeader];
  return typeof token === "string" && token !== "" ? "v2" : "v1";
}

function main() {
  const { mode, logPath, listen } = parseCommandLine();
  const logFd = openSync(logPath, "w");
  /** Issued tokens and when they expire (epoch ms). */
  /** @type {Map<string, number>} */
  const liveTokens = new Map();
  /** Log writers of requests still waiting for a response (put-hang), run at shutdown. */
  /** @type {Set<() => void>} */
  const unanswered = new Set();
  let logClosed = false;
  /** @type {WeakMap<import("node:net").Socket, SocketAddresses>} */
  const socketAddresses = new WeakMap();
  let nextSeq = 0;
  let nextConnection = 0;

  /** Synchronous writes: a line is on disk before the next request is handled. */
  function writeLog(/** @type {LogEntry} */ entry) {
    if (!logClosed) writeSync(logFd, `${JSON.stringify(entry)}\n`);
  }

  function issueToken(/** @type {number} */ ttlSeconds) {
    if (liveTokens.size >= maxLiveTokens) liveTokens.clear();
    const token = `AQAEA${randomBytes(39).toString("base64url")}==`;
    liveTokens.set(token, Date.now() + ttlSeconds * 1000);
    return token;
  }

  function tokenIsValid(/** @type {unknown} */ token) {
    if (typeof token !== "string") return false;
    const expiresAtMs = liveTokens.get(token);
    if (expiresAtMs === undefined) return false;
    if (expiresAtMs > Date.now()) return true;
    liveTokens.delete(token);
    return false;
  }

  /**
   * @param {import("node:http").IncomingMessage} req
   * @param {import("node:http").ServerResponse} res
   */
  function handle(req, res) {
    const receivedAt = Date.now();
    const method = req.method ?? "";
    const target = req.url ?? "";
    const kind = classify(method, target, req.headers);
    const addresses = socketAddresses.get(req.socket) ?? rememberAddresses(req.socket);
    const userAgentHeader = req.headers["user-agent"];
    /** @type {LogEntry} */
    const entry = {
      seq: nextSeq++,
      connection: addresses.connection,
      method,
      path: target,
      httpVersion: req.httpVersion,
      kind,
      userAgent: typeof userAgentHeader === "string" ? userAgentHeader : null,
      tokenTtlSeconds: kind === "token-request" ? parseTtlSeconds(req.headers[tokenTtlHeader]) : null,
      forwardedFor: req.headers["x-forwarded-for"] !== undefined,
      clientIp: addresses.clientIp,
      clientPort: addresses.clientPort,
      serverIp: addresses.serverIp,
      serverPort: addresses.serverPort,
      status: null,
      receivedAt,
    };
    const logUnanswered = () => {
      unanswered.delete(logUnanswered);
      writeLog(entry);
    };
    unanswered.add(logUnanswered);
    res.on("finish", () => {
      if (!unanswered.delete(logUnanswered)) return;
      writeLog({ ...entry, status: res.statusCode });
    });
    // A request that never got a response (put-hang) is logged when its connection closes.
    res.on("close", () => {
      if (unanswered.has(logUnanswered)) logUnanswered();
    });
    // Drain any body so keep-alive works; IMDS requests have none.
    req.resume();
    req.on("end", () => {
      respond(req, res, kind, targetPath(target));
    });
  }

  /**
   * @param {import("node:http").ServerResponse} res
   * @param {number} status
   * @param {string} body
   * @param {Record<string, string>} [extraHeaders]
   */
  function send(res, status, body, extraHeaders = {}) {
    const isError = status >= 400;
    res.writeHead(status, {
      ...extraHeaders,
      "Content-Type": isError ? "text/html" : "text/plain",
      "Accept-Ranges": "none",
      "Last-Modified": new Date(startedAtMs).toUTCString(),
      "Content-Length": String(Buffer.byteLength(body)),
      Server: "EC2ws",
    });
    res.end(body);
  }

  const reasons = /** @type {const} */ ({
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
  });

  /**
   * @param {import("node:http").ServerResponse} res
   * @param {keyof typeof reasons} status
   */
  function sendError(res, status) {
    // Real IMDS sends 401 with an empty body; the other errors carry its HTML page.
    send(res, status, status === 401 ? "" : errorPage(status, reasons[status]));
  }

  /**
   * @param {import("node:http").IncomingMessage} req
   * @param {import("node:http").ServerResponse} res
   * @param {RequestKind} kind
   * @param {string} path target without scheme and authority, query kept
   */
  function respond(req, res, kind, path) {
    if (kind === "token-request") {
      if (mode === "put-hang") return; // never answered; logged when the client gives up
      if (mode === "put-403" || mode === "put-404" || mode === "put-405") {
        sendError(res, failedPutStatus[mode]);
        return;
      }
      if (req.headers["x-forwarded-for"] !== undefined) {
        sendError(res, 403);
        return;
      }
      const ttlSeconds = parseTtlSeconds(req.headers[tokenTtlHeader]) ?? 0;
      if (ttlSeconds < 1 || ttlSeconds > maxTokenTtlSeconds) {
        sendError(res, 400);
        return;
      }
      send(res, 200, issueToken(ttlSeconds), { "X-Aws-Ec2-Metadata-Token-Ttl-Seconds": String(ttlSeconds) });
      return;
    }
    if (path.split("?")[0] === tokenPath) {
      sendError(res, 405);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendError(res, 405);
      return;
    }
    const token = req.headers[tokenHeader];
    if (kind === "v2" ? !tokenIsValid(token) : mode === "required") {
      sendError(res, 401);
      return;
    }
    const content = lookup(path.split("?")[0] ?? "");
    if (content === undefined) {
      sendError(res, 404);
      return;
    }
    send(res, 200, content);
  }

  /** Addresses are read when the connection opens: a closed socket no longer has them. */
  function rememberAddresses(/** @type {import("node:net").Socket} */ socket) {
    const addresses = {
      connection: nextConnection++,
      clientIp: socket.remoteAddress ?? "",
      clientPort: socket.remotePort ?? 0,
      serverIp: socket.localAddress ?? "",
      serverPort: socket.localPort ?? 0,
    };
    socketAddresses.set(socket, addresses);
    return addresses;
  }
  // One server per listen address, sharing the handler, the tokens and the log.
  const servers = listen.map((text) => {
    const server = createServer(handle);
    server.on("connection", rememberAddresses);
    return { server, address: parseListenAddress(text) };
  });

  let pending = servers.length;
  for (const { server, address } of servers) {
    server.on("error", (error) => {
      process.stderr.write(`fake-imds: cannot listen on ${address.host}:${address.port}: ${error.message}\n`);
      process.exit(1);
    });
    server.listen({ host: address.host, port: address.port, ipv6Only: address.host.includes(":") }, () => {
      // The bound address, so a test can listen on port 0 and learn the port.
      const bound = server.address();
      if (bound !== null && typeof bound === "object") {
        const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
        process.stdout.write(`listening on ${host}:${bound.port}\n`);
      }
      pending--;
      if (pending === 0) process.stdout.write("ready\n");
    });
  }

  function shutdown() {
    for (const { server } of servers) {
      server.close();
      server.closeAllConnections();
    }
    // Hung token PUTs have no response: log them now (status null), then flush and leave.
    for (const logRequest of [...unanswered]) logRequest();
    logClosed = true;
    fsyncSync(logFd);
    closeSync(logFd);
    process.exit(0);
  }
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

main();
