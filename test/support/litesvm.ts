// LiteSVM in-process, fed with web3.js transactions through the kit wire-format bridge.
import { address, getTransactionDecoder } from '@solana/kit';
import { LiteSVM, type FailedTransactionMetadata, type TransactionMetadata } from 'litesvm';
import { type Keypair, type PublicKey, Transaction, type TransactionInstruction } from '@solana/web3.js';
import { readFixtures } from '../../anchor-localnet/fixtures.js';
import { accountsDir, DEFAULT_PROGRAM_VERSION, type ProgramVersion } from '../../anchor-localnet/paths.js';

export const kitAddress = (k: PublicKey) => address(k.toBase58());

/** A LiteSVM with a version's genesis accounts (not its program). */
export function svmWithFixtures(version: ProgramVersion = DEFAULT_PROGRAM_VERSION): LiteSVM {
  const svm = new LiteSVM();
  for (const f of readFixtures(accountsDir(version))) {
    svm.setAccount({
      address: address(f.pubkey),
      lamports: BigInt(f.account.lamports),
      data: Buffer.from(f.account.data[0], 'base64'),
      programAddress: address(f.account.owner),
      executable: false,
      space: BigInt(f.account.space),
    } as never);
  }
  return svm;
}

export function sendIxs(svm: LiteSVM, ixs: TransactionInstruction[], signers: Keypair[]): TransactionMetadata | FailedTransactionMetadata {
  const tx = new Transaction().add(...ixs);
  tx.feePayer = signers[0]!.publicKey;
  tx.recentBlockhash = svm.latestBlockhash();
  tx.sign(...signers);
  const result = svm.sendTransaction(getTransactionDecoder().decode(tx.serialize()) as never);
  svm.expireBlockhash();
  return result;
}
