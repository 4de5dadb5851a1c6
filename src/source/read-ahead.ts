import { readSync } from "node:fs";
import { receiveMessageOnPort, MessageChannel, Worker } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";

/**
 * Reads the rest of an open file on a second thread, ahead of the parser, so that copying the
 * file out of the page cache (about a third of the cost of analysing a large capture) overlaps
 * with parsing instead of adding to it.
 *
 * The reader thread fills a ring of fixed slots in shared memory with `read(2)` calls and flips
 * each slot's state with Atomics; `next()` waits (Atomics.wait, synchronously) for the next full
 * slot and returns a view of it, which stays valid until the following `next()` or `close()`.
 * Nothing is allocated per chunk and memory is bounded by the ring.
 */

/** Slot states, in the shared control array. */
const SlotState = { empty: 0, full: 1, end: 2, failed: 3 } as const;

/** Control array layout: [stop, reader ready, start given, then per slot: state, length]. */
const stopIndex = 0;
const readyIndex = 1;
const startIndex = 2;
const stateIndex = (slot: number): number => 3 + slot * 2;
const lengthIndex = (slot: number): number => 4 + slot * 2;

/** Ring slots: enough for the reader to stay ahead through a slow stretch of parsing. */
export const readAheadSlots = 16;

/**
 * Runs on the reader thread (plain JavaScript: it is passed to the Worker as source text).
 * Says it is ready, waits for the file position to start at, then reads into slot after slot
 * with positioned reads, waiting while the parser still holds the slot it is about to fill.
 * Stops at the end of the file, on a read error (reported through the port) or when told.
 */
const readerSource = `
const { workerData } = require("node:worker_threads");
const { readSync } = require("node:fs");
const { fd, slotBytes, slots, buffer, control, startPosition, port } = workerData;
const states = new Int32Array(control);
const stopped = () => Atomics.load(states, ${stopIndex}) !== 0;
Atomics.store(states, ${readyIndex}, 1);
while (Atomics.load(states, ${startIndex}) === 0 && !stopped()) Atomics.wait(states, ${startIndex}, 0, 1000);
let position = new Float64Array(startPosition)[0];
let slot = 0;
while (!stopped()) {
  const state = 3 + slot * 2;
  while (Atomics.load(states, state) !== ${SlotState.empty} && !stopped()) {
    Atomics.wait(states, state, Atomics.load(states, state), 1000);
  }
  if (stopped()) break;
  let length;
  try {
    length = readSync(fd, new Uint8Array(buffer, slot * slotBytes, slotBytes), 0, slotBytes, position);
  } catch (error) {
    port.postMessage({ code: error.code ?? null, message: String(error.message ?? error) });
    Atomics.store(states, state, ${SlotState.failed});
    Atomics.notify(states, state);
    break;
  }
  position += length;
  Atomics.store(states, state + 1, length);
  Atomics.store(states, state, length === 0 ? ${SlotState.end} : ${SlotState.full});
  Atomics.notify(states, state);
  if (length === 0) break;
  slot = (slot + 1) % slots;
}
port.close();
`;

/** A read that failed on the reader thread: the errno code and message it gave. */
export class ReadAheadError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

export class ReadAhead {
  private readonly control: Int32Array;
  private readonly buffer: SharedArrayBuffer;
  private readonly startPosition: Float64Array;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** Until the reader thread is up, `next()` reads here itself (starting a thread takes ms). */
  private ownBuffer: Uint8Array | null;
  private position: number;
  /** The slot handed out by the last `next()`, released on the following call. */
  private heldSlot = -1;
  private slot = 0;
  private finished = false;

  /**
   * Reads `fd` from `position` on. `fd` must not be read with implicit positions meanwhile, and
   * is closed by the caller only after `close()`. `readHereUntilReaderIsUp: false` waits for
   * the reader thread from the first chunk (tests use it to exercise the ring).
   */
  constructor(
    private readonly fd: number,
    position: number,
    private readonly slotBytes: number,
    readHereUntilReaderIsUp = true,
  ) {
    this.position = position;
    this.ownBuffer = readHereUntilReaderIsUp ? new Uint8Array(slotBytes) : null;
    this.buffer = new SharedArrayBuffer(slotBytes * readAheadSlots);
    const controlBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (3 + readAheadSlots * 2));
    this.control = new Int32Array(controlBuffer);
    const startBuffer = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT);
    this.startPosition = new Float64Array(startBuffer);
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.worker = new Worker(readerSource, {
      eval: true,
      workerData: {
        fd,
        slotBytes,
        slots: readAheadSlots,
        buffer: this.buffer,
        control: controlBuffer,
        startPosition: startBuffer,
        port: channel.port2,
      },
      transferList: [channel.port2],
      // The reader needs almost no heap; keep the thread's footprint small.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
    // A reader left waiting must never keep the process alive.
    this.worker.unref();
    this.port.unref();
    if (!readHereUntilReaderIsUp) this.handOver();
  }

  /** The next chunk of the file, or null at its end. Blocks until the reader has it. */
  next(): Uint8Array | null {
    if (this.finished) return null;
    if (this.ownBuffer !== null) {
      if (Atomics.load(this.control, readyIndex) === 0) return this.readHere(this.ownBuffer);
      this.handOver();
    }
    this.release();
    const slot = this.slot;
    const state = stateIndex(slot);
    while (Atomics.load(this.control, state) === SlotState.empty) Atomics.wait(this.control, state, SlotState.empty);
    const current = Atomics.load(this.control, state);
    if (current === SlotState.end) {
      this.finished = true;
      return null;
    }
    if (current === SlotState.failed) {
      this.finished = true;
      const failure = receiveMessageOnPort(this.port)?.message as { code: string | null; message: string } | undefined;
      throw new ReadAheadError(failure?.message ?? "read failed", failure?.code ?? null);
    }
    this.heldSlot = slot;
    this.slot = (slot + 1) % readAheadSlots;
    return new Uint8Array(this.buffer, slot * this.slotBytes, Atomics.load(this.control, lengthIndex(slot)));
  }

  /** Stops the reader thread. Safe to call more than once. */
  async close(): Promise<void> {
    this.finished = true;
    Atomics.store(this.control, stopIndex, 1);
    Atomics.notify(this.control, startIndex);
    for (let slot = 0; slot < readAheadSlots; slot++) Atomics.notify(this.control, stateIndex(slot));
    this.port.close();
    await this.worker.terminate();
  }

  private readHere(buffer: Uint8Array): Uint8Array | null {
    const length = readSync(this.fd, buffer, 0, buffer.length, this.position);
    this.position += length;
    if (length === 0) {
      this.finished = true;
      return null;
    }
    return length === buffer.length ? buffer : buffer.subarray(0, length);
  }

  private handOver(): void {
    this.ownBuffer = null;
    // A plain store: the reader reads it only after seeing the Atomics store below, which
    // publishes it (Atomics operations are sequentially consistent).
    this.startPosition[0] = this.position;
    Atomics.store(this.control, startIndex, 1);
    Atomics.notify(this.control, startIndex);
  }

  private release(): void {
    if (this.heldSlot < 0) return;
    const state = stateIndex(this.heldSlot);
    Atomics.store(this.control, state, SlotState.empty);
    Atomics.notify(this.control, state);
    this.heldSlot = -1;
  }
}
