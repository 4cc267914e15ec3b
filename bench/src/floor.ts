import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import path from 'node:path'
import { freshSends } from './load.ts'
import type { FreshSends } from './load.ts'

/** The floor server (floor-server.ts) as its own process, like the project's server. */
export interface FloorServer {
  url: string
  process: ChildProcess
  stop(): Promise<void>
}

export async function startFloorServer(env: {
  DATABASE_URL: string
  REDIS_URL: string
  REDIS_KEY_PREFIX: string
}): Promise<FloorServer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'floor-server.ts')],
    {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const port = await new Promise<number>((resolve, reject) => {
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening (\d+)/.exec(output)
      if (match?.[1]) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      }),
  }
}

/** The floor's load: fresh mobiles in the 16x range and its own captchas (see freshSends). */
export const floorSends = (pool: number): FreshSends => freshSends('16', pool)
