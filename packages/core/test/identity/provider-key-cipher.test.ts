import t from 'tap'
import { ProviderKeyCipher, providerKeyAad, secretHint } from '../../src/identity/provider-key-cipher.js'

const key = Buffer.alloc(32, 1)
const aad = providerKeyAad('3f1d6c1e-0000-4000-8000-000000000001', 'openai')

t.test('round trip with a fresh IV every time', async (t) => {
  const cipher = new ProviderKeyCipher(key)
  const a = cipher.encrypt('sk-secret-value', aad)
  const b = cipher.encrypt('sk-secret-value', aad)
  t.not(a, b, 'random IV: the same secret encrypts differently')
  t.match(a, /^v1:[A-Za-z0-9+/=]{16}:[A-Za-z0-9+/=]{24}:[A-Za-z0-9+/=]+$/, 'v1:<iv 96 bits>:<tag 128 bits>:<ciphertext>')
  t.notOk(a.includes('sk-secret-value'))
  t.equal(cipher.decrypt(a, aad), 'sk-secret-value')
  t.equal(cipher.decrypt(b, aad), 'sk-secret-value')
  t.equal(cipher.decrypt(cipher.encrypt('ключ 🔑', aad), aad), 'ключ 🔑', 'unicode survives')
})

t.test('tampering, another row or another key fails', async (t) => {
  const cipher = new ProviderKeyCipher(key)
  const stored = cipher.encrypt('sk-secret-value', aad)
  const [v, iv, tag, ct] = stored.split(':')
  const flipped = Buffer.from(ct, 'base64')
  flipped[0] ^= 1
  t.throws(() => cipher.decrypt([v, iv, tag, flipped.toString('base64')].join(':'), aad), 'a flipped ciphertext bit')
  const badTag = Buffer.from(tag, 'base64')
  badTag[3] ^= 0x80
  t.throws(() => cipher.decrypt([v, iv, badTag.toString('base64'), ct].join(':'), aad), 'a flipped tag bit')
  t.throws(() => cipher.decrypt(stored, providerKeyAad('3f1d6c1e-0000-4000-8000-000000000002', 'openai')), 'copied into another project')
  t.throws(() => cipher.decrypt(stored, providerKeyAad('3f1d6c1e-0000-4000-8000-000000000001', 'anthropic')), 'copied to another provider')
  t.throws(() => new ProviderKeyCipher(Buffer.alloc(32, 2)).decrypt(stored, aad), 'another encryption key')
  t.throws(() => cipher.decrypt(`v2:${iv}:${tag}:${ct}`, aad), /unsupported/, 'an unknown version')
  t.throws(() => cipher.decrypt('garbage', aad), /unsupported/)
  t.throws(() => cipher.decrypt(`v1:AAAA:${tag}:${ct}`, aad), /malformed/, 'a short IV')
})

t.test('the key must be 32 bytes', async (t) => {
  t.throws(() => new ProviderKeyCipher(Buffer.alloc(16)), /32 bytes/)
})

t.test('hints show the last four characters of long secrets only', async (t) => {
  t.equal(secretHint('sk-abcdefgh1234'), '…1234')
  t.equal(secretHint('short-key'), '…')
})
