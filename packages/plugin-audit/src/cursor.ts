import { TollgateError } from '@tollgate/core'

/** Encodes a keyset position as an opaque cursor. */
export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url')
}

/** Decodes a cursor; a malformed one is a 400 naming the `cursor` parameter. */
export function decodeCursor<T extends Record<string, string | number>>(cursor: string | undefined, keys: readonly (keyof T & string)[]): T | undefined {
  if (cursor === undefined || cursor === '') return undefined
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T
    if (value && typeof value === 'object' && keys.every((k) => typeof value[k] === 'string' || typeof value[k] === 'number')) return value
  } catch {}
  throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'cursor is not a cursor this endpoint returned', { field: 'cursor' })
}
