import type { Logger } from 'pino'
import type { Role } from '../context/principal.js'

/** What an invitation sender delivers: the invitee's address and the one-time accept link. */
export interface InvitationMessage {
  email: string
  organizationName: string
  role: Role
  /** The link with the invitation token; the token is never stored, only its hash. */
  acceptUrl: string
  expiresAt: Date
}

/** Delivers invitation links (email, chat, …). Plug in your own; the default logs them. */
export interface InvitationSender {
  send(invitation: InvitationMessage): Promise<void>
}

/** The default sender: logs the accept link (for development and single-operator installs). */
export class LoggingInvitationSender implements InvitationSender {
  readonly #log: Logger

  constructor(log: Logger) {
    this.#log = log
  }

  async send(invitation: InvitationMessage): Promise<void> {
    this.#log.info(
      { email: invitation.email, organization: invitation.organizationName, role: invitation.role, expiresAt: invitation.expiresAt.toISOString(), acceptUrl: invitation.acceptUrl },
      'invitation created: send this link to the invitee',
    )
  }
}
