import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { canonicalJson } from './canonical-json.js'

/**
 * A signed statement "the chain of this organization had `seq` entries ending in `hash`". Kept
 * outside the database (exported), it catches a rewrite of the chain that recomputed every hash,
 * a truncation, or a deleted checkpoint row: none of those can produce a valid signature.
 */
export interface Checkpoint {
  version: 1
  organizationId: string
  seq: number
  hash: string
  signedAt: string
  /** First 16 hex digits of the SHA-256 of the public key (SPKI DER). */
  keyId: string
  /** Ed25519 signature (base64) of the canonical JSON of every other field. */
  signature: string
}

/** A key given as PEM or as base64 DER (PKCS#8 for private keys, SPKI for public ones). */
function keyText(text: string): { key: string | Buffer; format: 'pem' | 'der' } {
  return text.includes('-----BEGIN') ? { key: text, format: 'pem' } : { key: Buffer.from(text, 'base64'), format: 'der' }
}

/** Loads an Ed25519 private key from config; throws naming the problem. */
export function loadPrivateKey(text: string): KeyObject {
  const { key, format } = keyText(text)
  const k = format === 'pem' ? createPrivateKey(key) : createPrivateKey({ key: key as Buffer, format: 'der', type: 'pkcs8' })
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`the checkpoint signing key is ${k.asymmetricKeyType}, not ed25519`)
  return k
}

/** Loads an Ed25519 public key from config. */
export function loadPublicKey(text: string): KeyObject {
  const { key, format } = keyText(text)
  const k = format === 'pem' ? createPublicKey(key) : createPublicKey({ key: key as Buffer, format: 'der', type: 'spki' })
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`a checkpoint public key is ${k.asymmetricKeyType}, not ed25519`)
  return k
}

/** The key id of a public key. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex').slice(0, 16)
}

function signedBytes(c: Omit<Checkpoint, 'signature'>): Buffer {
  return Buffer.from(canonicalJson({ version: c.version, organizationId: c.organizationId, seq: c.seq, hash: c.hash, signedAt: c.signedAt, keyId: c.keyId }))
}

/** Signs a checkpoint of a chain head. */
export function signCheckpoint(privateKey: KeyObject, head: { organizationId: string; seq: number; hash: string }, signedAt = new Date()): Checkpoint {
  const keyId = keyIdOf(createPublicKey(privateKey))
  const body = { version: 1 as const, organizationId: head.organizationId, seq: head.seq, hash: head.hash, signedAt: signedAt.toISOString(), keyId }
  return { ...body, signature: sign(null, signedBytes(body), privateKey).toString('base64') }
}

/** True when the checkpoint's signature is valid under one of the given keys (matched by key id). */
export function checkpointSignatureValid(c: Checkpoint, publicKeys: ReadonlyMap<string, KeyObject>): boolean {
  const key = publicKeys.get(c.keyId)
  if (!key || typeof c.signature !== 'string') return false
  try {
    return verify(null, signedBytes(c), key, Buffer.from(c.signature, 'base64'))
  } catch {
    return false
  }
}
