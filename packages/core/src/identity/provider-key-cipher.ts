import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * Encrypts provider keys at rest with AES-256-GCM: a random 96-bit IV per value, a 128-bit auth
 * tag, stored as `v1:<iv>:<tag>:<ciphertext>` (base64). The associated data binds a ciphertext to
 * the row it belongs to (project and provider), so a value copied into another row does not decrypt.
 */
export class ProviderKeyCipher {
  readonly #key: Buffer

  constructor(key: Buffer) {
    if (key.length !== 32) throw new RangeError(`provider key encryption key must be 32 bytes, got ${key.length}`)
    this.#key = Buffer.from(key)
  }

  /** Encrypts a secret; `aad` is authenticated but not stored. */
  encrypt(plaintext: string, aad: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(aad, 'utf8'))
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':')
  }

  /** Decrypts a stored value; throws when it is malformed, tampered with, or bound to other `aad`. */
  decrypt(stored: string, aad: string): string {
    const parts = stored.split(':')
    if (parts.length !== 4 || parts[0] !== VERSION) throw new Error('unsupported provider key ciphertext format')
    const iv = Buffer.from(parts[1], 'base64')
    const tag = Buffer.from(parts[2], 'base64')
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('malformed provider key ciphertext')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(Buffer.from(aad, 'utf8'))
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(Buffer.from(parts[3], 'base64')), decipher.final()]).toString('utf8')
  }
}

/** The associated data of a provider key: the project and provider it belongs to. */
export function providerKeyAad(projectId: string, provider: string): string {
  return `tollgate:provider-key:${projectId}:${provider}`
}

/** A display hint for a secret: its last four characters, or nothing for secrets too short to hint at safely. */
export function secretHint(secret: string): string {
  return secret.length >= 12 ? `…${secret.slice(-4)}` : '…'
}
