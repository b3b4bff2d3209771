import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

/**
 * AES-256-GCM for IdP client secrets at rest: `v1:<iv>:<tag>:<ciphertext>` (base64), with the
 * organization bound as associated data so a value copied to another row does not decrypt.
 */
export class SecretBox {
  readonly #key: Buffer

  constructor(key: Buffer) {
    if (key.length !== 32) throw new RangeError(`sso encryption key must be 32 bytes, got ${key.length}`)
    this.#key = key
  }

  /** Encrypts a secret bound to `aad`. */
  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(aad))
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(':')
  }

  /** Decrypts a sealed value; throws when it was tampered with or bound to other `aad`. */
  open(sealed: string, aad: string): string {
    const [v, iv, tag, ct] = sealed.split(':')
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('unsupported sealed secret format')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64'))
    decipher.setAAD(Buffer.from(aad))
    decipher.setAuthTag(Buffer.from(tag, 'base64'))
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8')
  }
}

/** Derives a purpose-specific 32-byte key from the master key (HKDF-SHA256), so one key never serves two uses. */
export function deriveKey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `tollgate-sso:${purpose}`, 32))
}
