import type { WireProtocol } from '../canonical/types.js'

/**
 * Vendor fields that a canonical object (a content part, a tool, the request) does not model but
 * that must survive a same-protocol round trip: Anthropic `cache_control` and `citations` on
 * blocks, OpenAI `strict` on function tools, which of `max_tokens`/`max_completion_tokens` the
 * client used. They ride on the canonical object under `wire`, are re-emitted only to an upstream
 * (or client) of the same protocol, and are dropped by a hook that builds a fresh part, which is
 * the safe default. They are not part of the canonical contract: plugins should not rely on them.
 */
export interface WireFields {
  protocol: WireProtocol
  fields: Record<string, unknown>
}

/** A canonical object that may carry vendor fields. */
export interface CarriesWireFields {
  wire?: WireFields
}

/** The vendor fields an object carries for `protocol`, if any. */
export function wireFields(value: object, protocol: WireProtocol): Record<string, unknown> | undefined {
  const wire = (value as CarriesWireFields).wire
  return wire !== undefined && wire.protocol === protocol ? wire.fields : undefined
}

/** Attaches vendor fields to a canonical object (returns it); does nothing when `fields` is undefined. */
export function attachWireFields<T extends object>(value: T, protocol: WireProtocol, fields: Record<string, unknown> | undefined): T {
  if (fields !== undefined) (value as CarriesWireFields).wire = { protocol, fields }
  return value
}

/**
 * Copies the keys of `source` other than `known` into a new object; undefined when there are none.
 * Used to keep unmodelled vendor fields without listing every one of them.
 */
export function otherFields(source: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined
  for (const key in source) {
    if (known.has(key)) continue
    if (!Object.hasOwn(source, key)) continue
    out ??= {}
    out[key] = source[key]
  }
  return out
}
