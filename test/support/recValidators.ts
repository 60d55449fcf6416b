// The REC validator set of the local chain's energy_token 0.1.1, changed as GridTokenX's governance authority
// changes it (add_rec_validator / remove_rec_validator through anchor's client and the 0.1.1 IDL). The localnet
// authority pays the fees; the committed governance key signs.
import { type Connection, type Keypair, PublicKey, type Transaction } from '@solana/web3.js';
import { governanceConfigAddress, localnetGovernance } from '../../anchor-localnet/fixtures.js';
import { anchorProgram, authority, TOKEN_INFO } from './energyToken.js';

/**
 * Send and wait for `confirmed` by polling over HTTP, not through a WebSocket subscription: a test may stop the
 * chain right after, and a subscription's socket would then try to reconnect to it for ever (keeping jest alive).
 */
async function sendConfirmed(connection: Connection, tx: Transaction, signers: Keypair[]): Promise<string> {
  const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash('confirmed');
  tx.recentBlockhash = blockhash;
  tx.lastValidBlockHeight = lastValidBlockHeight;
  tx.feePayer = authority().publicKey;
  tx.sign(authority(), ...signers);
  const signature = await connection.sendRawTransaction(tx.serialize());
  for (;;) {
    const [status] = (await connection.getSignatureStatuses([signature])).value;
    if (status?.err) throw new Error(`transaction ${signature} failed: ${JSON.stringify(status.err)}`);
    if (status?.confirmationStatus === 'confirmed' || status?.confirmationStatus === 'finalized') return signature;
    if ((await connection.getBlockHeight('confirmed')) > lastValidBlockHeight) throw new Error(`transaction ${signature} expired`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function removeRecValidator(connection: Connection, validator: PublicKey, governance: Keypair = localnetGovernance()): Promise<string> {
  return anchorProgram(connection)
    .methods.removeRecValidator!(validator)
    .accountsStrict({ tokenInfo: TOKEN_INFO, governanceConfig: governanceConfigAddress(), authority: governance.publicKey })
    .transaction()
    .then((tx) => sendConfirmed(connection, tx, [governance]));
}

export async function addRecValidator(connection: Connection, validator: PublicKey, governance: Keypair = localnetGovernance()): Promise<string> {
  return anchorProgram(connection)
    .methods.addRecValidator!(validator, 'test')
    .accountsStrict({ tokenInfo: TOKEN_INFO, governanceConfig: governanceConfigAddress(), authority: governance.publicKey })
    .transaction()
    .then((tx) => sendConfirmed(connection, tx, [governance]));
}

/** The validators token_info registers now (its first rec_validators_count entries). */
export async function registeredValidators(connection: Connection): Promise<string[]> {
  const info = await connection.getAccountInfo(TOKEN_INFO, 'confirmed');
  const data = info!.data;
  // TokenInfo 0.1.1 (repr C): 8-byte discriminator, four keys, two u64, then rec_validators[5] and the count.
  const count = data[8 + 4 * 32 + 16 + 5 * 32]!;
  return Array.from({ length: count }, (_, i) => new PublicKey(data.subarray(8 + 4 * 32 + 16 + i * 32, 8 + 4 * 32 + 16 + (i + 1) * 32)).toBase58());
}
