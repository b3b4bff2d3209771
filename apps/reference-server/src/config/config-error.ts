/** A configuration problem: the message names the key path and, when known, where the value came from. */
export class ConfigError extends Error {
  /** Every problem found, one line each ("providers[0].kind must be one of …"). */
  readonly problems: string[]

  constructor(problems: string[] | string) {
    const list = Array.isArray(problems) ? problems : [problems]
    super(list.map((p) => `config: ${p}`).join('\n'))
    this.name = 'ConfigError'
    this.problems = list
  }
}
