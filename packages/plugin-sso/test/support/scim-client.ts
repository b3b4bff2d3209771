import type { TestGateway } from '@tollgate/core/testing'

/** A SCIM response: status, parsed body, content type. */
export interface ScimResponse {
  status: number
  body: any
  contentType: string
}

/** A SCIM client speaking application/scim+json to the gateway with a bearer token. */
export function scimClient(gw: TestGateway, token: () => string) {
  return async function scim(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<ScimResponse> {
    const res = await gw.app.inject({
      method,
      url: `/scim/v2${url}`,
      headers: { authorization: `Bearer ${token()}`, accept: 'application/scim+json', ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}) },
      payload: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, contentType: String(res.headers['content-type'] ?? '') }
  }
}

/** A SCIM user body. */
export function scimUser(userName: string, extra: Record<string, unknown> = {}) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName,
    name: { givenName: userName.split('@')[0], familyName: 'Test' },
    emails: [{ value: userName, type: 'work', primary: true }],
    active: true,
    ...extra,
  }
}

/** A SCIM PATCH body. */
export function patch(...operations: Record<string, unknown>[]) {
  return { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: operations }
}
