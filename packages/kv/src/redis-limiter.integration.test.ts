import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { describeRateLimiterContract, LIMITER_CONTRACT_KEYS } from './testing/limiter-contract.ts'
import { RedisLimiter } from './redis-limiter.ts'
import type { LimiterMode } from './redis-limiter.ts'
import { RedisStore } from './redis-store.ts'
import { StoreUnavailableError } from './store.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const modes: LimiterMode[] = ['single', 'per-group']

for (const mode of modes) {
  describeRateLimiterContract(`RedisLimiter (${mode}) on real Redis`, async () => {
    const prefix = `test:${randomUUID()}:`
    const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
    await store.ready()
    // The limiter's connection is a user that may touch the contract's keys only: Redis refuses
    // it a write elsewhere, which a single script must meet with nothing counted.
    const user = `limiter-contract-${randomUUID()}`
    const password = randomUUID()
    await store.redis.acl(
      'SETUSER',
      user,
      'on',
      `>${password}`,
      `~${prefix}${LIMITER_CONTRACT_KEYS}*`,
      '+@all',
    )
    const url = new URL(REDIS_URL)
    url.username = user
    url.password = password
    const limited = new RedisStore({ url: url.href, keyPrefix: prefix })
    await limited.ready()
    const seen = new Set<string>()
    return {
      limiter: new RedisLimiter(limited.redis, { mode }),
      store,
      unwritableKey: (name) => `unwritable:${name}`,
      peek: async (key) => {
        seen.add(key)
        const count = await store.get(key)
        return count === null
          ? null
          : { count: Number(count), ttlMs: (await store.pttl(key)) ?? -1 }
      },
      close: async () => {
        await limited.close()
        await store.redis.acl('DELUSER', user)
        await store.close()
        // A client without the prefix: ioredis would put the prefix on KEYS' answers a second time.
        const raw = new RedisStore({ url: REDIS_URL })
        try {
          await raw.ready()
          const keys = await raw.redis.keys(`${prefix}*`)
          if (keys.length > 0) await raw.del(...keys)
        } finally {
          await raw.close()
        }
      },
    }
  })

  describe(`RedisLimiter (${mode})`, () => {
    it('puts the store key prefix on its keys', async () => {
      const prefix = `test:${randomUUID()}:`
      const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
      const raw = new RedisStore({ url: REDIS_URL })
      try {
        await store.ready()
        const limiter = new RedisLimiter(store.redis, { mode })
        expect(
          await limiter.take([[{ name: 'n', key: 'c:{t}', limit: 1, windowSeconds: 60 }]]),
        ).toBe(null)
        expect(await raw.get(`${prefix}c:{t}`)).toBe('1')
        expect(await raw.get('c:{t}')).toBeNull()
      } finally {
        await raw.del(`${prefix}c:{t}`)
        await Promise.all([store.close(), raw.close()])
      }
    })

    it('puts the key prefix on its write as the store does, on a key without a hash tag too', async () => {
      const prefix = `test:${randomUUID()}:`
      const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
      const raw = new RedisStore({ url: REDIS_URL })
      const code = 'SMS_13800000000'
      const attempts = 'signup:sms-attempts:{13800000000}'
      try {
        await store.ready()
        const limiter = new RedisLimiter(store.redis, { mode })
        await store.set(attempts, '2', 60)
        const counter = { name: 'n', key: 'c:{t}', limit: 1, windowSeconds: 60 }
        const write = {
          key: code,
          value: 'sealed',
          ttlSeconds: 60,
          deleteKey: attempts,
          store: () => store.setThenDel(code, 'sealed', 60, attempts),
        }
        expect(await limiter.take([[counter]], write)).toBeNull()
        // Where the store reads its own writes: the same prefixed key.
        expect(await store.get(code)).toBe('sealed')
        expect(await raw.get(`${prefix}${code}`)).toBe('sealed')
        expect(await raw.get(code)).toBeNull()
        expect(await raw.get(`${prefix}${attempts}`)).toBeNull()
      } finally {
        await raw.del(`${prefix}c:{t}`, `${prefix}${code}`, `${prefix}${attempts}`)
        await Promise.all([store.close(), raw.close()])
      }
    })

    it('a counter at its limit with no lifetime refuses for its window, not for ever', async () => {
      const prefix = `test:${randomUUID()}:`
      const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
      try {
        await store.ready()
        const limiter = new RedisLimiter(store.redis, { mode })
        // As if made by hand or PERSISTed: the script never makes a counter without a TTL.
        await store.redis.set('stuck:{s}', '3')
        const counter = { name: 'stuck', key: 'stuck:{s}', limit: 3, windowSeconds: 60 }
        expect(await limiter.take([[counter]])).toEqual({ name: 'stuck', retryAfterMs: 60_000 })
        const ttl = (await store.pttl('stuck:{s}')) ?? -1
        expect(ttl).toBeGreaterThan(55_000)
        expect(ttl).toBeLessThanOrEqual(60_000)
        expect(await store.get('stuck:{s}')).toBe('3')
      } finally {
        await store.del('stuck:{s}')
        await store.close()
      }
    })

    it('a counter that fails counts nothing on the others', async () => {
      const prefix = `test:${randomUUID()}:`
      const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
      try {
        await store.ready()
        const limiter = new RedisLimiter(store.redis, { mode })
        await store.set('broken:{b}', 'not a count', 60)
        const good = { name: 'good', key: 'good:{g}', limit: 5, windowSeconds: 60 }
        const broken = { name: 'broken', key: 'broken:{b}', limit: 5, windowSeconds: 60 }
        await expect(limiter.take([[good], [broken]])).rejects.toBeInstanceOf(StoreUnavailableError)
        expect(await store.get('good:{g}')).toBeNull()
      } finally {
        await store.del('good:{g}', 'broken:{b}')
        await store.close()
      }
    })

    it('fails fast with StoreUnavailableError when Redis is unreachable', async () => {
      const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 })
      const limiter = new RedisLimiter(store.redis, { mode })
      const counter = { name: 'n', key: 'k', limit: 1, windowSeconds: 60 }
      await expect(limiter.take([[counter], [counter]])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      )
      await expect(limiter.giveBack([[counter]])).rejects.toBeInstanceOf(StoreUnavailableError)
      await store.close()
    })
  })
}

/** A command Redis ran, as MONITOR shows it: who sent it (an address, or `lua`) and its words. */
interface MonitoredCommand {
  source: string
  args: string[]
}

/**
 * Every command Redis runs from now on, read from MONITOR on a socket of its own: ioredis's
 * monitor() loses its place in its command queue when lines arrive while MONITOR's OK is awaited,
 * as they do on a busy Redis.
 */
async function monitorRedis(url: string) {
  const { hostname, port, username, password } = new URL(url)
  const socket = connect(Number(port || 6379), hostname)
  socket.setEncoding('utf8')
  const commands: MonitoredCommand[] = []
  let oksAwaited = password ? 2 : 1
  let pending = ''
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject)
    socket.on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\r\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith('-')) reject(new Error(`MONITOR refused: ${line}`))
        else if (line === '+OK' && --oksAwaited === 0) resolve()
        const [, source, words] = /^\+\S+ \[\d+ ([^\]]+)\] (.*)$/.exec(line) ?? []
        if (source !== undefined && words !== undefined) {
          const args = [...words.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((word) => word[1] ?? '')
          commands.push({ source, args })
        }
      }
    })
    if (password) {
      const auth = username ? ['AUTH', username, password] : ['AUTH', password]
      socket.write(`*${auth.length}\r\n${auth.map((w) => `$${w.length}\r\n${w}\r\n`).join('')}`)
    }
    socket.write('MONITOR\r\n')
  })
  return { commands, close: () => socket.destroy() }
}

describe('RedisLimiter (single) with a write', () => {
  it('checks, counts and writes in one command to Redis (decision record 021)', async () => {
    const prefix = `test:${randomUUID()}:`
    const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
    const monitor = await monitorRedis(REDIS_URL)
    const keys = ['m:{m}', 'ip:{ip}', 'all:{all}', 'code', 'attempts:{m}', 'warm:{w}']
    try {
      await store.ready()
      const limiter = new RedisLimiter(store.redis, { mode: 'single' })
      // ioredis sends a script as EVAL the first time on a connection, then EVALSHA: sent once.
      await limiter.take([[{ name: 'warm', key: 'warm:{w}', limit: 1, windowSeconds: 60 }]])
      // MONITOR names a connection by its address; one connection's commands keep their order.
      const address = /\baddr=(\S+)/.exec(String(await store.redis.client('INFO')))?.[1]
      const [start, end] = [`start-${randomUUID()}`, `end-${randomUUID()}`]
      const write = {
        key: 'code',
        value: 'sealed',
        ttlSeconds: 300,
        deleteKey: 'attempts:{m}',
        store: () => store.setThenDel('code', 'sealed', 300, 'attempts:{m}'),
      }
      const groups = [
        [{ name: 'mobile', key: 'm:{m}', limit: 5, windowSeconds: 3600 }],
        [{ name: 'ip', key: 'ip:{ip}', limit: 20, windowSeconds: 3600 }],
        [{ name: 'global', key: 'all:{all}', limit: 1000, windowSeconds: 3600 }],
      ]
      await store.redis.echo(start)
      expect(await limiter.take(groups, write)).toBeNull()
      await store.redis.echo(end)
      const ours = () => monitor.commands.filter((command) => command.source === address)
      await expect
        .poll(() => ours().some((command) => command.args[1] === end), { timeout: 10_000 })
        .toBe(true)
      const sent = ours()
      const between = sent.slice(
        sent.findIndex((command) => command.args[1] === start) + 1,
        sent.findIndex((command) => command.args[1] === end),
      )
      expect(between.map((command) => command.args[0]?.toLowerCase())).toEqual(['evalsha'])
      expect(await store.get('code')).toBe('sealed')
      expect(await store.get('m:{m}')).toBe('1')
    } finally {
      monitor.close()
      await store.del(...keys)
      await store.close()
    }
  })
})

describe('RedisLimiter mode', () => {
  it('is single on one Redis server unless told otherwise', async () => {
    const store = new RedisStore({ url: REDIS_URL })
    try {
      expect(new RedisLimiter(store.redis).mode).toBe('single')
      expect(new RedisLimiter(store.redis, { mode: 'per-group' }).mode).toBe('per-group')
    } finally {
      await store.close()
    }
  })
})
