// Small helpers shared by the interop tests. Everything that waits is bounded in time.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with a descriptive error if `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Resolves with the arguments of the next `event` emitted by `emitter` (array), bounded. */
export function nextEvent(emitter, event, ms = 5000) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, `event "${event}"`).catch((err) => {
    emitter.off?.(event, handler);
    throw err;
  });
}

/**
 * Records every emission of `event` on `emitter` so a test can wait for "the n-th one" without
 * losing any that arrived earlier.
 */
export class EventLog {
  constructor(emitter, event) {
    this.items = [];
    this.waiters = [];
    this.emitter = emitter;
    this.event = event;
    this.handler = (...args) => {
      this.items.push(args);
      this.waiters = this.waiters.filter((w) => {
        if (this.items.length >= w.count) {
          w.resolve(this.items.slice(0, w.count));
          return false;
        }
        return true;
      });
    };
    emitter.on(event, this.handler);
  }

  /** Resolves once at least `count` emissions have been recorded. */
  waitFor(count, ms = 5000) {
    if (this.items.length >= count) return Promise.resolve(this.items.slice(0, count));
    const p = new Promise((resolve) => this.waiters.push({ count, resolve }));
    return withTimeout(p, ms, `${count} "${this.event}" events (got ${this.items.length})`);
  }

  stop() {
    this.emitter.off(this.event, this.handler);
  }
}

/** Compares binary-ish values (Buffer, ArrayBuffer, typed arrays) by content. */
export function toBuffer(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`not binary: ${Object.prototype.toString.call(value)}`);
}

export function isBinary(value) {
  return Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/** Deterministic pseudo-random bytes (so failures are reproducible). */
export function bytes(length, seed = 1) {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
