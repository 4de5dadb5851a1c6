/** The decode stage's public surface: frames in, IMDS TCP segments out. */
export { FrameDecoder } from "./decode-frame.js";
export { createTcpSegment, TcpFlag, type TcpSegment } from "./segment.js";
export { formatIpv4Address, formatIpv6Address } from "./address-text.js";
export { LinkType, describeLinkType } from "./link-types.js";
