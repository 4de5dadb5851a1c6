/** TCP reassembly: segments in capture order -> in-order byte streams per flow and direction. */
export { TcpReassembler } from "./tcp-reassembler.js";
export { minChargedBytesPerPiece } from "./out-of-order-queue.js";
export { sequenceAdd, sequenceDifference } from "./sequence.js";
export { Direction, defaultReassemblyLimits } from "./types.js";
export type {
  DeliveryContext,
  FlowConsumer,
  FlowConsumerFactory,
  FlowEndReason,
  FlowEndpoints,
  ReassemblyLimits,
} from "./types.js";
