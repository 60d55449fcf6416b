// The REC validator set of the local chain's energy_token 0.1.1, changed as GridTokenX's governance authority
// changes it (add_rec_validator / remove_rec_validator through anchor's client and the 0.1.1 IDL). The localnet
// authority pays the fees; the committed governance key signs.
import { type Connection, type Keypair, PublicKey } from '@solana/web3.js';
import { governanceConfigAddress, localnetGovernance } from '../../anchor-localnet/fixtures.js';
import { anchorProgram, TOKEN_INFO } from './energyToken.js';

export async function removeRecValidator(connection: Connection, validator: PublicKey, governance: Keypair = localnetGovernance()): Promise<string> {
  return anchorProgram(connection)
    .methods.removeRecValidator!(validator)
    .accountsStrict({ tokenInfo: TOKEN_INFO, governanceConfig: governanceConfigAddress(), authority: governance.publicKey })
    .signers([governance])
    .rpc();
}

export async function addRecValidator(connection: Connection, validator: PublicKey, governance: Keypair = localnetGovernance()): Promise<string> {
  return anchorProgram(connection)
    .methods.addRecValidator!(validator, 'test')
    .accountsStrict({ tokenInfo: TOKEN_INFO, governanceConfig: governanceConfigAddress(), authority: governance.publicKey })
    .signers([governance])
    .rpc();
}

/** The validators token_info registers now (its first rec_validators_count entries). */
export async function registeredValidators(connection: Connection): Promise<string[]> {
  const info = await connection.getAccountInfo(TOKEN_INFO, 'confirmed');
  const data = info!.data;
  // TokenInfo 0.1.1 (repr C): 8-byte discriminator, four keys, two u64, then rec_validators[5] and the count.
  const count = data[8 + 4 * 32 + 16 + 5 * 32]!;
  return Array.from({ length: count }, (_, i) => new PublicKey(data.subarray(8 + 4 * 32 + 16 + i * 32, 8 + 4 * 32 + 16 + (i + 1) * 32)).toBase58());
}
