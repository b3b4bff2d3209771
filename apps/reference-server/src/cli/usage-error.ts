/** A mistake in the command line (unknown command, missing option); printed with a hint to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
