import type { ResponseMissingCause } from "../events.js";
import type { PendingCall } from "./event-queue.js";

/** `take()` result for a response whose call's event already left: nothing to update. */
export const alreadyEmitted = null;

/**
 * The calls of one connection waiting for their responses, oldest first (HTTP/1.x answers in
 * request order). Pipelining can put any number of requests ahead of their responses, so this
 * neither shifts an array (O(n) once it passes ~16k elements: quadratic over a connection) nor
 * holds every request of a long connection:
 * - a moving head index makes `take` O(1) amortised;
 * - calls the event queue already emitted (response timeout, or its maxPendingEvents limit) can
 *   no longer change, so only their number is kept. What this holds is therefore bounded by the
 *   event queue's maxPendingEvents, whatever one connection carries.
 */
export class AwaitingCalls {
  private calls: (PendingCall | undefined)[] = [];
  private head = 0;
  /** Emitted calls before `head`'s call, dropped: their responses are only counted off. */
  private emittedAhead = 0;

  add(call: PendingCall): void {
    this.dropEmittedHead();
    this.calls.push(call);
  }

  /**
   * The call the next response answers: undefined when none is waiting, `alreadyEmitted` (null)
   * when its event already left.
   */
  take(): PendingCall | typeof alreadyEmitted | undefined {
    this.dropEmittedHead();
    if (this.emittedAhead > 0) {
      this.emittedAhead--;
      return alreadyEmitted;
    }
    const call = this.calls[this.head];
    if (call === undefined) return undefined;
    this.calls[this.head++] = undefined;
    this.compact();
    return call;
  }

  /**
   * No response will be paired any more: every waiting call leaves with what it has, those
   * without a status saying why (CAUSE).
   */
  settleAll(cause: ResponseMissingCause): void {
    for (let index = this.head; index < this.calls.length; index++) {
      const call = this.calls[index]!;
      call.settled = true;
      if (call.status === null && !call.emitted) call.responseMissing ??= cause;
    }
    this.calls = [];
    this.head = 0;
    this.emittedAhead = 0;
  }

  private dropEmittedHead(): void {
    while (this.head < this.calls.length && this.calls[this.head]!.emitted) {
      this.calls[this.head++] = undefined;
      this.emittedAhead++;
    }
    this.compact();
  }

  private compact(): void {
    if (this.head === this.calls.length) {
      this.calls.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.calls.length) {
      // Amortised O(1): the dead prefix is at least half the array when it is dropped.
      this.calls = this.calls.slice(this.head);
      this.head = 0;
    }
  }
}
