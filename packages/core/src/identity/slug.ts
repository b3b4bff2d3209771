import { randomBytes } from 'node:crypto'

/** A URL-safe slug from a display name: lowercase ASCII letters, digits and dashes, at most 40 characters. */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '')
  return slug || 'org'
}

/** The slug with a short random suffix, for when the plain slug is taken. */
export function suffixedSlug(slug: string): string {
  return `${slug}-${randomBytes(4).toString('hex')}`
}
