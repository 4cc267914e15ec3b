import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { captchaKey, smsCodeKey } from '@signup/auth/stores'
import { freshMobile } from '@signup/db/testing/mobiles'
import { RedisStore } from '@signup/kv/redis-store'
import { startRedisCluster } from '@signup/kv/testing/redis-cluster'
import type { RedisClusterUnderTest } from '@signup/kv/testing/redis-cluster'
import { RET } from '@signup/trpc/ret'
import { createTestDatabase, testKeyPrefix } from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'
import { startServer } from './testing/test-server.ts'
import type { RunningServer } from './testing/test-server.ts'

// The production server on a Redis Cluster as a managed one is: a password on every node, TLS
// only, a certificate from a CA Node does not trust (REDIS_CLUSTER_TLS_CA names it).
const password = randomBytes(18).toString('base64url')
const prefix = testKeyPrefix('cluster-auth')
let cluster: RedisClusterUnderTest
let database: TestDatabase
let server: RunningServer
/** The cluster under the server's key prefix: seeds captchas, reads what the server stored. */
let redis: RedisStore

beforeAll(async () => {
  cluster = await startRedisCluster({ password, tls: true })
  database = await createTestDatabase('cluster_auth')
  expect(Object.keys(cluster.env).sort()).toEqual([
    'REDIS_CLUSTER_NODES',
    'REDIS_CLUSTER_PASSWORD',
    'REDIS_CLUSTER_TLS',
    'REDIS_CLUSTER_TLS_CA',
  ])
  server = await startServer({
    DATABASE_URL: database.url,
    ...cluster.env,
    REDIS_KEY_PREFIX: prefix,
    SMS_PROVIDER: 'console',
  })
  redis = new RedisStore({ ...cluster.connection, keyPrefix: prefix })
  await redis.ready()
}, 180_000)

afterAll(async () => {
  try {
    await server?.stop()
    await redis?.close()
  } finally {
    await cluster?.stop()
    await database?.drop()
  }
})

describe('REDIS_CLUSTER_PASSWORD, REDIS_CLUSTER_TLS and REDIS_CLUSTER_TLS_CA', () => {
  it('say auth and tls in the start line, never the password', () => {
    const line = /redis: redis cluster via [^;]*/.exec(server.output())?.[0] ?? ''
    expect(line).toContain(cluster.nodesEnv)
    expect(line).toContain('auth')
    expect(line).toContain(`tls (CA ${cluster.tls?.caFile})`)
    expect(server.output()).not.toContain(password)
  })

  it('GET /healthz: ok, every master pinged over TLS with the password', async () => {
    const response = await fetch(`${server.url}/healthz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', postgres: 'ok', redis: 'ok', down: [] })
  })

  it('POST /passport/sms_code: a send answers errno "0" and its code is in the cluster', async () => {
    const id = randomUUID()
    const mobile = freshMobile()
    await redis.set(captchaKey(id), 'Q7RT', 300)
    const response = await fetch(`${server.url}/passport/sms_code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mobile, image_code: 'Q7RT', image_code_id: id }),
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ errno: RET.OK })
    expect(await redis.get(smsCodeKey(mobile))).not.toBeNull()
  })
})
