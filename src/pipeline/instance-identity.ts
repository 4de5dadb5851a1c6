import { isInstanceId } from "../events.js";

/**
 * Learning the EC2 instance id from IMDS's own answers. Only the two responses that name the
 * instance are ever read, and only up to `maxIdentityBodyBytes`; nothing but the instance id
 * leaves this module (the identity document also holds the account id; other bodies hold
 * credentials and user-data, and are never read at all).
 */

/** The identity document is about 500 bytes; an instance id 10 or 19. */
export const maxIdentityBodyBytes = 4096;

/** Which identity response a request path asks for. */
export const IdentityPath = { none: 0, instanceId: 1, identityDocument: 2 } as const;
export type IdentityPath = (typeof IdentityPath)[keyof typeof IdentityPath];

const identityPaths: Readonly<Record<string, IdentityPath>> = {
  "/latest/meta-data/instance-id": IdentityPath.instanceId,
  "/latest/meta-data/instance-id/": IdentityPath.instanceId,
  "/latest/dynamic/instance-identity/document": IdentityPath.identityDocument,
  "/latest/dynamic/instance-identity/document/": IdentityPath.identityDocument,
};

/** Exact paths only (a query string or another API version does not count). */
export function identityPathOf(path: string): IdentityPath {
  return Object.hasOwn(identityPaths, path) ? identityPaths[path]! : IdentityPath.none;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * The instance id in a complete 200 body, or null. `instance-id` is the id itself (surrounding
 * whitespace tolerated); the identity document is JSON whose `instanceId` field is read. Never
 * throws, whatever the bytes.
 */
export function instanceIdFromBody(kind: IdentityPath, body: Uint8Array): string | null {
  if (kind === IdentityPath.none || body.length > maxIdentityBodyBytes) return null;
  const text = utf8.decode(body);
  if (kind === IdentityPath.instanceId) {
    const trimmed = text.trim();
    return isInstanceId(trimmed) ? trimmed : null;
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) return null;
  const instanceId = Object.hasOwn(document, "instanceId") ? (document as { readonly instanceId?: unknown }).instanceId : undefined;
  return isInstanceId(instanceId) ? instanceId : null;
}
