// This machine's addresses, for tests of what the server binds (HOST).
import { networkInterfaces } from 'node:os';

/** An IPv4 address of this machine that is not loopback, or null when it has none. */
export function nonLoopbackAddress(): string | null {
  const all = Object.values(networkInterfaces()).flatMap((i) => i ?? []);
  return all.find((i) => i.family === 'IPv4' && !i.internal)?.address ?? null;
}
