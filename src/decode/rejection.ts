import type { CounterName } from "../diagnostics.js";

/**
 * Why a frame did not yield an IMDS segment: each layer returns the name of the one counter that
 * explains it (or `undefined` to go on), so the decoder counts exactly one reason per frame and
 * no layer allocates anything to say so.
 */
export type DecodeRejection = Extract<
  CounterName,
  | "framesUnknownLinkType"
  | "framesNotIp"
  | "framesNotTcp"
  | "framesNotImds"
  | "framesMalformed"
  | "framesTruncatedHeaders"
  | "ipFragmentsSkipped"
>;

/**
 * A header runs past the captured bytes before any IP length is known. If snaplen cut the frame
 * the header really was there on the wire (truncated); otherwise the frame itself is too short.
 */
export function headerPastCapturedBytes(snaplenCut: boolean): DecodeRejection {
  return snaplenCut ? "framesTruncatedHeaders" : "framesMalformed";
}
