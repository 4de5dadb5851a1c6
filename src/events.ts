/**
 * The NDJSON event: one per HTTP request to IMDS. Versioned: fields may be added under the same
 * schema version, never removed or changed in meaning (that takes "imds-analyzer/event@2").
 * Documented in README.md ("Event schema"). Never carries a token value, credential or body.
 */
export const eventSchema = "imds-analyzer/event@1";

export type CallKind = "v1" | "v2" | "token-request";

/** Filled by live capture (issue: live attribution); null in offline analysis. */
export type ProcessInfo = Record<string, unknown>;

export interface ImdsEvent {
  readonly schema: typeof eventSchema;
  /** ISO-8601 UTC capture time of the frame that completed the request head. */
  readonly time: string;
  readonly kind: CallKind;
  readonly method: string;
  readonly path: string;
  readonly httpVersion: string;
  readonly userAgent: string | null;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly serverIp: string;
  readonly serverPort: number;
  /** Response status code, or null when no response was seen. */
  readonly status: number | null;
  /** Frame number (1-based, within `source`) that completed the request head. */
  readonly frame: number;
  /** The capture file as given on the command line (`-` for stdin). */
  readonly source: string;
  readonly process: ProcessInfo | null;
  /** For token requests: the TTL asked for, in seconds (not a secret); else null. */
  readonly tokenTtlSeconds: number | null;
  /** The request carried X-Forwarded-For (IMDS rejects token PUTs that do). */
  readonly forwardedFor: boolean;
  /** 1-based index of the request on its TCP connection (keep-alive reuse shows as 2, 3, ...). */
  readonly requestOnConnection: number;
}
