import { type CacheProvider, type Profile, SAML, ValidateInResponseTo } from '@node-saml/node-saml'
import type { SSOPluginConfig } from '../config.js'
import type { SamlSettings } from '../connections/types.js'
import { samlAcsUrl, samlEntityId } from '../urls.js'

/** The identity read from a verified, signed assertion, with what the replay cache needs. */
export interface VerifiedAssertion {
  assertionId: string
  /** When the assertion stops being usable (the later of its NotOnOrAfter values): how long to remember its id. */
  notOnOrAfter: Date
  nameId: string
  issuer: string
  attributes: Record<string, unknown>
}

/** Builds the node-saml service provider of one organization; `cache` answers the InResponseTo checks. */
export function samlFor(config: SSOPluginConfig, organizationId: string, settings: SamlSettings, cache: CacheProvider): SAML {
  return new SAML({
    callbackUrl: samlAcsUrl(config, organizationId),
    entryPoint: settings.idpSsoUrl,
    issuer: samlEntityId(config, organizationId),
    audience: samlEntityId(config, organizationId),
    idpIssuer: settings.idpEntityId,
    idpCert: settings.idpCertificates,
    // Assertions must carry their own valid signature: a signed response around an unsigned assertion is not enough.
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: config.loginStateTtlSeconds * 1000,
    acceptedClockSkewMs: config.clockSkewSeconds * 1000,
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    signatureAlgorithm: 'sha256',
    cacheProvider: cache,
  })
}

/**
 * Checks a base64 SAMLResponse before node-saml sees it: no DOCTYPE (entity tricks), no comments
 * or processing instructions (comment injection truncates NameIDs in naive readers; no IdP needs them).
 */
export function precheckResponse(base64: string): string | undefined {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(base64)) return 'the SAMLResponse is not base64'
  const xml = Buffer.from(base64, 'base64').toString('utf8')
  if (/<!DOCTYPE/i.test(xml)) return 'the response has a DOCTYPE'
  if (xml.includes('<!--')) return 'the response contains XML comments'
  if (/<\?(?!xml\s)/i.test(xml.replace(/^\s*<\?xml[^>]*\?>/, ''))) return 'the response contains processing instructions'
  return undefined
}

type XmlNode = { $?: Record<string, string>; _?: string } & Record<string, unknown>

function first(node: unknown, key: string): XmlNode | undefined {
  const list = (node as Record<string, unknown> | undefined)?.[key]
  return Array.isArray(list) ? (list[0] as XmlNode) : undefined
}

/**
 * Reads the checks node-saml leaves to the caller from the signed assertion only: the issuer,
 * the bearer confirmation's Recipient (our ACS URL) and NotOnOrAfter, and the assertion id for
 * the replay cache. Throws a reason on any mismatch.
 */
export function verifiedAssertionOf(profile: Profile, expected: { acsUrl: string; idpEntityId: string }): VerifiedAssertion {
  const doc = profile.getAssertion?.() as { Assertion?: XmlNode } | undefined
  const assertion = doc?.Assertion
  if (!assertion?.$?.ID) throw new Error('the signed assertion has no ID')
  const issuer = first(assertion, 'Issuer')
  const issuerValue = typeof issuer === 'string' ? issuer : issuer?._
  if (issuerValue !== expected.idpEntityId) throw new Error('the assertion issuer is not this organization\'s IdP')
  const subject = first(assertion, 'Subject')
  const confirmations = (subject?.SubjectConfirmation as XmlNode[] | undefined) ?? []
  const bearer = confirmations.find((c) => c.$?.Method === 'urn:oasis:names:tc:SAML:2.0:cm:bearer')
  const data = first(bearer, 'SubjectConfirmationData')
  if (!data?.$) throw new Error('the assertion has no bearer subject confirmation')
  if (data.$.Recipient !== expected.acsUrl) throw new Error('the assertion Recipient is not this ACS URL')
  if (!data.$.NotOnOrAfter) throw new Error('the subject confirmation has no NotOnOrAfter')
  const confirmUntil = Date.parse(data.$.NotOnOrAfter)
  const conditionsUntil = Date.parse(first(assertion, 'Conditions')?.$?.NotOnOrAfter ?? '')
  if (!Number.isFinite(confirmUntil)) throw new Error('NotOnOrAfter is not a date')
  if (!profile.nameID) throw new Error('the assertion has no NameID')
  return {
    assertionId: assertion.$.ID,
    notOnOrAfter: new Date(Math.max(confirmUntil, Number.isFinite(conditionsUntil) ? conditionsUntil : 0)),
    nameId: profile.nameID,
    issuer: issuerValue,
    attributes: (profile.attributes as Record<string, unknown> | undefined) ?? {},
  }
}
