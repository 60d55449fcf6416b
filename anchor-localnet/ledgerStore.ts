// The local chain's ledger directory (`--ledger DIR`, like solana-test-validator's test-ledger/):
//   genesis.json   the genesis hash, written once
//   snapshot.bin   the whole LiteSVM state (accounts, sysvars, programs) at one journal position
//   journal.jsonl  every non-empty block with its transactions and metadata, and every account set by
//                  hand, one line each, appended as they happen
//   lock           the pid of the process that has the ledger open
// A restart loads the snapshot and re-executes the journal's blocks that came after it (after a crash,
// the snapshot is older than the journal), so nothing that landed is lost and nothing runs twice.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, appendFileSync, ftruncateSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface SnapshotMeta {
  /** The last journal entry the snapshot includes. */
  seq: number;
  slot: number;
  blockHeight: number;
  time: number;
}

export type JournalEntry<Tx> =
  | { seq: number; t: 'block'; slot: number; blockHeight: number; time: number; txs: Tx[] }
  | { seq: number; t: 'account'; pubkey: string; account: { lamports: bigint; data: Uint8Array; owner: string; executable: boolean } };

type NewEntry<Tx> = JournalEntry<Tx> extends infer E ? (E extends unknown ? Omit<E, 'seq'> : never) : never;

/**
 * JSON that keeps bigints and byte arrays (the journal holds balances above 2^53 and wire bytes). The
 * raw value is read from the holder: a Buffer's toJSON runs before a replacer sees it.
 */
function replacer(this: Record<string, unknown>, k: string, v: unknown) {
  const raw = this[k];
  if (typeof raw === 'bigint') return { $n: raw.toString() };
  if (raw instanceof Uint8Array) return { $b: Buffer.from(raw).toString('base64') };
  return v;
}
const reviver = (_k: string, v: unknown) => {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (typeof o.$n === 'string' && Object.keys(o).length === 1) return BigInt(o.$n);
    if (typeof o.$b === 'string' && Object.keys(o).length === 1) return new Uint8Array(Buffer.from(o.$b, 'base64'));
  }
  return v;
};

export class LedgerInUse extends Error {}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class LedgerStore {
  readonly dir: string;
  /** True when this process created the ledger (it did not exist, or held no genesis yet). */
  readonly created: boolean;
  private seq = 0;
  private lockPath: string;

  private constructor(dir: string) {
    this.dir = resolve(dir);
    mkdirSync(this.dir, { recursive: true });
    this.lockPath = join(this.dir, 'lock');
    this.lock();
    this.created = !existsSync(this.path('genesis.json'));
  }

  /** Opens (or creates) a ledger directory; refuses one another live process has open. */
  static open(dir: string): LedgerStore {
    return new LedgerStore(dir);
  }

  private path(name: string): string {
    return join(this.dir, name);
  }

  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(this.lockPath, String(process.pid), { flag: 'wx' });
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const pid = Number(readFileSync(this.lockPath, 'utf8'));
        if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) {
          throw new LedgerInUse(`localnet: the ledger ${this.dir} is in use by process ${pid}${pid === process.pid ? ' (this one)' : ''}; stop it or pick another --ledger`);
        }
        rmSync(this.lockPath, { force: true }); // left by a process that died
      }
    }
    throw new LedgerInUse(`localnet: cannot lock the ledger ${this.dir}`);
  }

  genesisHash(): string | null {
    if (this.created) return null;
    return (JSON.parse(readFileSync(this.path('genesis.json'), 'utf8')) as { genesisHash: string }).genesisHash;
  }

  writeGenesis(genesisHash: string): void {
    writeFileSync(this.path('genesis.json'), `${JSON.stringify({ genesisHash, created: new Date().toISOString() }, null, 2)}\n`);
  }

  /** Written to a temporary file and renamed, so a crash leaves the previous snapshot whole. */
  writeSnapshot(meta: Omit<SnapshotMeta, 'seq'>, state: Uint8Array): void {
    const header = Buffer.from(JSON.stringify({ ...meta, seq: this.seq }));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length);
    const tmp = this.path('snapshot.bin.tmp');
    writeFileSync(tmp, Buffer.concat([len, header, state]));
    renameSync(tmp, this.path('snapshot.bin'));
  }

  readSnapshot(): { meta: SnapshotMeta; state: Uint8Array } | null {
    if (!existsSync(this.path('snapshot.bin'))) return null;
    const buf = readFileSync(this.path('snapshot.bin'));
    const n = buf.readUInt32LE(0);
    return { meta: JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as SnapshotMeta, state: new Uint8Array(buf.subarray(4 + n)) };
  }

  /** Every whole journal entry in order; a torn last line (a crash mid-write) is cut off. */
  readJournal<Tx>(): JournalEntry<Tx>[] {
    const file = this.path('journal.jsonl');
    if (!existsSync(file)) return [];
    const text = readFileSync(file, 'utf8');
    const out: JournalEntry<Tx>[] = [];
    let good = 0;
    for (let start = 0; start < text.length; ) {
      const end = text.indexOf('\n', start);
      if (end < 0) break;
      try {
        out.push(JSON.parse(text.slice(start, end), reviver) as JournalEntry<Tx>);
      } catch {
        break;
      }
      start = good = end + 1;
    }
    if (good < Buffer.byteLength(text)) {
      const fd = openSync(file, 'r+');
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, good)));
      closeSync(fd);
    }
    this.seq = out.length ? out[out.length - 1]!.seq : 0;
    return out;
  }

  append<Tx>(entry: NewEntry<Tx>): void {
    this.seq++;
    appendFileSync(this.path('journal.jsonl'), `${JSON.stringify({ seq: this.seq, ...entry }, replacer)}\n`);
  }

  get position(): number {
    return this.seq;
  }

  close(): void {
    rmSync(this.lockPath, { force: true });
  }
}
