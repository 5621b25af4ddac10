/**
 * Error codes of the provisioning pipeline (journal, targets, registrar, pipeline). The seed sources and
 * exports use `ProvisionerError` (seed.ts); the batch machinery uses `ProvisionFault` below, so that a report
 * line can say exactly why one token failed while the rest of the batch went on.
 *
 * Per-token faults (the token is reported failed, the batch continues):
 *   TOKEN_UNREACHABLE   the port/socket could not be opened, or the token stopped answering (unplugged)
 *   LINK_ERROR          the link corrupts frames (CRC errors) or answers garbage, so a request kept failing
 *   ATTESTATION_INVALID the device key is not attested by a trusted key: the token may be counterfeit
 *   PIN_INVALID         the admin PIN was refused (the message carries the retries left)
 *   PIN_BLOCKED         the token refuses PINs altogether
 *   TOKEN_LOCKED        the token is already locked (finalised) and is not one this journal finished
 *   TOKEN_NOT_EMPTY     the token holds a seed this journal does not know (not locked, but not ours)
 *   CHECK_FAILED        the token computed a different code than the seed predicts
 *   KCV_MISMATCH        the token's key check value does not match the assigned seed and it is locked
 *   REGISTER_CONFLICT   the verifier already holds this serial with another seed (HTTP 409)
 *   REGISTER_FAILED     the verifier refused or could not be reached
 *   TOKEN_ERROR         the token answered an unexpected status
 *   NO_SEED_LEFT        every seed in the batch is already assigned
 * Batch faults (the command stops):
 *   JOURNAL_KEY         the journal key file is missing/unreadable/wrong or the passphrase does not open it
 *   JOURNAL_CORRUPT     the journal is not a tokenforge journal, or an invariant check failed
 *   JOURNAL_EXISTS      refusing to start a new batch over an existing journal (use --resume)
 *   INVALID_ARGUMENT    a bad option (exit 2)
 */
import { TokenforgeError } from '../otp/errors.ts';

export type ProvisionFaultCode =
  | 'TOKEN_UNREACHABLE'
  | 'LINK_ERROR'
  | 'ATTESTATION_INVALID'
  | 'PIN_INVALID'
  | 'PIN_BLOCKED'
  | 'TOKEN_LOCKED'
  | 'TOKEN_NOT_EMPTY'
  | 'CHECK_FAILED'
  | 'KCV_MISMATCH'
  | 'REGISTER_CONFLICT'
  | 'REGISTER_FAILED'
  | 'TOKEN_ERROR'
  | 'NO_SEED_LEFT'
  | 'JOURNAL_KEY'
  | 'JOURNAL_CORRUPT'
  | 'JOURNAL_EXISTS'
  | 'INVALID_ARGUMENT';

export class ProvisionFault extends TokenforgeError<ProvisionFaultCode> {}
