/**
 * A FIFO planted where a file is read, to prove a read did not happen (or did not wait): its only
 * writer opens it 2 s later (O_RDWR: never blocks), writes "late" and leaves. So a writer still
 * alive when the answer is there shows the FIFO was not read, and a reader that waited ends with
 * "late" rather than hanging the run.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

/** Replaces PATH with such a FIFO, runs BODY with its writer, and kills the writer after. */
export async function withLateFifo<T>(path: string, body: (writer: ChildProcess) => T | Promise<T>): Promise<T> {
  rmSync(path, { force: true });
  execFileSync("mkfifo", [path]);
  const writer = spawn("sh", ["-c", 'sleep 2; exec 3<>"$0"; printf late >&3', path], { stdio: "ignore" });
  try {
    return await body(writer);
  } finally {
    writer.kill("SIGKILL");
  }
}
