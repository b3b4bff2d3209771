/** True for a plain object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Deep-merges `over` onto `base`: objects merge key by key, arrays and scalars replace. Neither
 * input is modified.
 */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue
    const current = out[key]
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : structuredClone(value)
  }
  return out
}

/** Sets `value` at a path of keys and array indexes, creating objects (or arrays, for numeric segments) on the way. */
export function setPath(target: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node: any = target
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]
    const nextIsIndex = typeof path[i + 1] === 'number'
    if (node[key] === undefined || node[key] === null || typeof node[key] !== 'object') node[key] = nextIsIndex ? [] : {}
    node = node[key]
  }
  node[path[path.length - 1]] = value
}

/** Formats a path the way error messages show it: `providers[0].apiKey`. */
export function formatPath(path: (string | number)[]): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p
  return out
}
