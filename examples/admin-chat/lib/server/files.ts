import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync } from "node:fs";
import path from "node:path";

/** Writes a file atomically: a temporary file in the same directory, fsync, then rename. */
export function writeFileAtomic(file: string, text: string, mode = 0o644) {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
