/** Small builders shared by the request schemas of the client protocols. */

const THEN = 'then'

/** A JSON Schema `if`/`then`/`else` (built without a literal `then` key, which linters take for a thenable). */
export function when(condition: object, consequence: object, alternative?: object): Record<string, unknown> {
  const schema: Record<string, unknown> = { if: condition }
  schema[THEN] = consequence
  if (alternative) schema.else = alternative
  return schema
}

/** Applies `schema` to objects whose `type` is `type`. */
export const whenType = (type: string, schema: object): Record<string, unknown> => when({ properties: { type: { const: type } } }, schema)
