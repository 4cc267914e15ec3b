import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { RedisStore } from '@signup/kv/redis-store'
import { stopProcess as stopChild } from '@signup/kv/testing/child-process'
import { waitUntil } from './test-infra.ts'

/**
 * A redis-server of a test's own on `port` (no persistence; `freePort` of
 * @signup/db/testing/server-process finds one), for a test that stops or configures it, which the
 * shared one never is; resolves once it answers. `config` adds configuration lines as arguments
 * (`['--user', 'default', 'on', ...]`). Stop it with stopProcess.
 */
export async function startPrivateRedis(
  port: number,
  config: readonly string[] = [],
): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...config],
    { stdio: 'ignore' },
  )
  const probe = new RedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 200 })
  try {
    await waitUntil(`redis-server answers on port ${port}`, () =>
      probe.ping().then(
        () => true,
        () => false,
      ),
    )
  } finally {
    await probe.close()
  }
  return child
}

/** Kills a process a test started, by its own handle, and resolves once it is gone. */
export function stopProcess(child: ChildProcess): Promise<void> {
  return stopChild(child, 'SIGKILL')
}
