// The authority key file is refused, as ssh refuses a private key, when others can read it or it belongs to
// another user; the message says to chmod 600 it. The service's start-up checks are in startup.test.ts.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { checkKeyFileMode, readKeypairFile } from '../../../src/chain/energyToken.js';
import { ConfigError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'keyfile-'));
const kp = Keypair.generate();
const path = join(dir, 'authority.json');
writeFileSync(path, JSON.stringify(Array.from(kp.secretKey)));

describe('the authority key file', () => {
  it.each([0o644, 0o640, 0o604, 0o660, 0o666, 0o700 | 0o070, 0o602])('mode %o is refused, saying chmod 600', (mode) => {
    chmodSync(path, mode);
    let err: unknown;
    try {
      readKeypairFile(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/AUTHORITY_KEYPAIR_PATH: permissions 0\d{3} for .*authority\.json are too open.*chmod 600/);
    expect((err as Error).message).not.toContain(String(kp.secretKey[0]) + ',');
  });

  it.each([0o600, 0o400])('mode %o is accepted', (mode) => {
    chmodSync(path, mode);
    expect(readKeypairFile(path).publicKey.toBase58()).toBe(kp.publicKey.toBase58());
  });

  it('a file owned by another user is refused, even at 600', () => {
    expect(() => checkKeyFileMode('/k.json', { mode: 0o100600, uid: 1234 }, 1000)).toThrow(/owned by uid 1234, not by the user running the service \(uid 1000\).*chmod 600/);
    expect(() => checkKeyFileMode('/k.json', { mode: 0o100600, uid: 1000 }, 1000)).not.toThrow();
  });

  it('checkMode false (the committed localnet key in embedded mode only) skips the check', () => {
    chmodSync(path, 0o644);
    expect(readKeypairFile(path, { checkMode: false }).publicKey.toBase58()).toBe(kp.publicKey.toBase58());
  });
});
