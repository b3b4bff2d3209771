/** Test helpers for Tollgate plugins and hosts: `import { createTestGateway } from '@tollgate/core/testing'`. */
export { createTestDatabase, type TestDatabase } from './test-database.js'
export { createTestGateway, type TestGateway, type TestGatewayOptions } from './test-gateway.js'
