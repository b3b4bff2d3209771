import t from 'tap'
import { slugify, suffixedSlug } from '../../src/identity/slug.js'

t.test('slugs', async (t) => {
  t.equal(slugify('Acme Corp.'), 'acme-corp')
  t.equal(slugify('  Café Zürich  '), 'cafe-zurich')
  t.equal(slugify('日本'), 'org', 'nothing usable falls back')
  t.equal(slugify('a'.repeat(60)).length, 40)
  t.equal(slugify(`${'a'.repeat(39)}-b`), 'a'.repeat(39), 'no trailing dash after truncation')
  t.match(suffixedSlug('acme'), /^acme-[0-9a-f]{8}$/)
})
