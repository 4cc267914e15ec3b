import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import type { RedisConnection } from '../redis-store.ts'
import { stopProcess, waitUntil } from './child-process.ts'
import { deleteKeysWithPrefix } from './redis-keys.ts'

const run = promisify(execFile)

/** A Redis Cluster node's bus listens on its port plus this (the Redis default). */
const BUS_PORT_OFFSET = 10_000
/** Ports are drawn here so that each bus port (+10000) stays under Linux's ephemeral range. */
const PORT_RANGE = { from: 12_000, to: 22_000 }

export interface ClusterNodeAddress {
  host: string
  port: number
}

/** One line of CLUSTER NODES, the parts the tests use. */
export interface ClusterNodeState {
  id: string
  port: number
  role: 'master' | 'replica'
  /** The master's id, for a replica. */
  masterId: string | null
  failed: boolean
  /** The slot ranges a master serves, first and last included. */
  slots: [number, number][]
}

export interface RedisClusterUnderTest {
  /** Every node's address: three masters and their replicas, as `redis-cli --cluster` paired them. */
  nodes: ClusterNodeAddress[]
  /** `host:port,...` of every node, as REDIS_CLUSTER_NODES takes it. */
  nodesEnv: string
  /** What a RedisStore needs to reach it: the nodes, and AUTH and TLS when the cluster asks. */
  connection: Extract<RedisConnection, { clusterNodes: unknown }>
  /** REDIS_CLUSTER_NODES, and REDIS_CLUSTER_PASSWORD, _TLS and _TLS_CA when the cluster asks. */
  env: Record<string, string>
  /** The throwaway CA that signed the nodes' certificate, with `tls`. */
  tls: { caFile: string; ca: string } | undefined
  /** The node's process id, to kill it as a crash would. */
  pidOf(port: number): number
  /** What the cluster says of its nodes now, asked of a node that is up. */
  state(): Promise<ClusterNodeState[]>
  /** The port of the master that serves this key (the whole key, prefix included). */
  masterOf(key: string): Promise<number>
  /** Removes every key under `prefix`, on every master. */
  deleteKeysWithPrefix(prefix: string): Promise<void>
  /** SIGKILLs the node, and resolves once its process has gone. */
  kill(port: number): Promise<void>
  /** Stops every node by its process id and removes the data directory. */
  stop(): Promise<void>
}

export interface RedisClusterOptions {
  /**
   * cluster-node-timeout (ms): how long a silent master takes to be failed over. 5 s unless a
   * test kills a master: long enough that a busy machine starving a node for a moment starts no
   * failover, short enough that gossip (a node pings each other at least every half of it)
   * agrees on the new cluster quickly.
   */
  nodeTimeoutMs?: number
  /** Every node asks clients for it (`--requirepass`) and replicas sign in to masters with it. */
  password?: string
  /**
   * TLS only, on every port: clients, the cluster bus and replication, with a certificate for
   * 127.0.0.1 signed by a CA made for this cluster (openssl, in its temp dir).
   */
  tls?: boolean
}

/** How the harness itself signs in to a node. */
interface NodeAccess {
  password: string | undefined
  tls: { caFile: string; ca: string } | undefined
}

const running = new Set<ChildProcess>()
// A test process that dies leaves no redis-server behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts a Redis Cluster of Debian's redis-server for a test file: six processes on free ports
 * (`--cluster-enabled yes`, each in its own directory under a temp dir, nothing persisted),
 * joined by `redis-cli --cluster create … --cluster-replicas 1`, resolved once every node says
 * `cluster_state:ok` and every replica is in sync with its master.
 */
export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterUnderTest> {
  const dir = await mkdtemp(path.join(tmpdir(), 'signup-redis-cluster-'))
  const processes = new Map<number, ChildProcess>()
  const stop = async (): Promise<void> => {
    await Promise.all([...processes.values()].map((child) => stopProcess(child)))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const certificates = options.tls ? await makeCertificates(dir) : undefined
    const access: NodeAccess = {
      password: options.password,
      tls: certificates && { caFile: certificates.caFile, ca: certificates.ca },
    }
    const ports = await freeClusterPorts(6)
    for (const port of ports) {
      processes.set(
        port,
        await startNode(dir, port, options.nodeTimeoutMs ?? 5_000, options.password, certificates),
      )
    }
    await Promise.all([...processes].map(([port, child]) => waitForNode(port, child, access)))
    const addresses = ports.map((port) => `127.0.0.1:${port}`)
    await run(
      'redis-cli',
      [
        ...(access.tls ? ['--tls', '--cacert', access.tls.caFile] : []),
        '--cluster',
        'create',
        ...addresses,
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      // The password through the environment, not argv: redis-cli reads REDISCLI_AUTH.
      { env: { ...process.env, ...(access.password && { REDISCLI_AUTH: access.password }) } },
    )
    const nodes = ports.map((port) => ({ host: '127.0.0.1', port }))
    const alive = () => ports.filter((port) => processes.get(port)?.exitCode === null)
    const cluster: RedisClusterUnderTest = {
      nodes,
      nodesEnv: addresses.join(','),
      connection: {
        clusterNodes: nodes,
        ...(access.password !== undefined && { auth: { password: access.password } }),
        ...(access.tls && { tls: { ca: access.tls.ca } }),
      },
      env: {
        REDIS_CLUSTER_NODES: addresses.join(','),
        ...(access.password !== undefined && { REDIS_CLUSTER_PASSWORD: access.password }),
        ...(access.tls && { REDIS_CLUSTER_TLS: '1', REDIS_CLUSTER_TLS_CA: access.tls.caFile }),
      },
      tls: access.tls,
      pidOf(port) {
        const pid = processes.get(port)?.pid
        if (pid === undefined) throw new Error(`no redis-server of this cluster on port ${port}`)
        return pid
      },
      async state() {
        const [port] = alive()
        if (port === undefined) throw new Error('every node of the cluster is down')
        return parseClusterNodes(await ask(port, access, 'CLUSTER', 'NODES'))
      },
      async masterOf(key) {
        const [port] = alive()
        if (port === undefined) throw new Error('every node of the cluster is down')
        const slot = Number(await ask(port, access, 'CLUSTER', 'KEYSLOT', key))
        const master = (await cluster.state()).find(
          (node) =>
            node.role === 'master' && node.slots.some(([from, to]) => from <= slot && slot <= to),
        )
        if (!master) throw new Error(`no master serves slot ${slot}`)
        return master.port
      },
      async deleteKeysWithPrefix(prefix) {
        const masters = (await cluster.state()).filter(
          (node) => node.role === 'master' && !node.failed,
        )
        await Promise.all(
          masters.map((node) =>
            deleteKeysWithPrefix({ ...nodeOptions(access), port: node.port }, prefix),
          ),
        )
      },
      async kill(port) {
        const child = processes.get(port)
        if (!child) throw new Error(`no redis-server of this cluster on port ${port}`)
        await stopProcess(child, 'SIGKILL')
      },
      stop,
    }
    await waitForClusterOk(ports, access, 60_000)
    return cluster
  } catch (error) {
    await stop()
    throw error
  }
}

/** A CA made for one cluster, and a certificate for 127.0.0.1 it signed, as files in `dir`. */
interface Certificates {
  caFile: string
  ca: string
  certFile: string
  keyFile: string
}

/** openssl, offline: an EC P-256 CA valid for a day, and a server certificate with IP SAN 127.0.0.1. */
async function makeCertificates(dir: string): Promise<Certificates> {
  const file = (name: string) => path.join(dir, name)
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  // prettier-ignore
  await run('openssl', [
    'req', '-x509', '-new', ...key, '-days', '1', '-subj', '/CN=signup test CA',
    '-keyout', file('ca.key'), '-out', file('ca.crt'),
  ])
  // prettier-ignore
  await run('openssl', [
    'req', '-new', ...key, '-subj', '/CN=127.0.0.1',
    '-keyout', file('node.key'), '-out', file('node.csr'),
  ])
  await writeFile(
    file('node.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n',
  )
  // prettier-ignore
  await run('openssl', [
    'x509', '-req', '-in', file('node.csr'), '-days', '1',
    '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-extfile', file('node.ext'), '-out', file('node.crt'),
  ])
  return {
    caFile: file('ca.crt'),
    ca: await readFile(file('ca.crt'), 'utf8'),
    certFile: file('node.crt'),
    keyFile: file('node.key'),
  }
}

async function startNode(
  dir: string,
  port: number,
  nodeTimeoutMs: number,
  password: string | undefined,
  certificates: Certificates | undefined,
): Promise<ChildProcess> {
  const nodeDir = path.join(dir, String(port))
  await mkdir(nodeDir)
  // prettier-ignore
  const listen = certificates
    ? [
      // No plain port at all; the bus (port + 10000) and replication are TLS too.
      '--port', '0', '--tls-port', String(port),
      '--tls-cluster', 'yes', '--tls-replication', 'yes',
      '--tls-cert-file', certificates.certFile, '--tls-key-file', certificates.keyFile,
      '--tls-ca-cert-file', certificates.caFile,
      // Clients show no certificate of their own, as with a managed cluster.
      '--tls-auth-clients', 'no',
    ]
    : ['--port', String(port)]
  const auth = password === undefined ? [] : ['--requirepass', password, '--masterauth', password]
  // prettier-ignore
  const args = [
    ...listen,
    ...auth,
    '--bind', '127.0.0.1',
    '--dir', nodeDir,
    '--cluster-enabled', 'yes',
    '--cluster-config-file', 'nodes.conf',
    '--cluster-node-timeout', String(nodeTimeoutMs),
    '--save', '',
    '--appendonly', 'no',
    // A replica's first sync starts at once instead of waiting 5 s for others to join it.
    '--repl-diskless-sync-delay', '0',
    '--logfile', path.join(nodeDir, 'redis.log'),
  ]
  const child = spawn('redis-server', args, { stdio: 'ignore' })
  running.add(child)
  child.once('exit', () => running.delete(child))
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  return child
}

/** Polls the node until it answers PING; fails at once if its process exits (a port taken since). */
async function waitForNode(port: number, child: ChildProcess, access: NodeAccess): Promise<void> {
  await waitUntil(
    `redis-server on port ${port} to answer`,
    async () => {
      if (child.exitCode !== null) {
        throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`)
      }
      return (await ask(port, access, 'PING').catch(() => '')) === 'PONG'
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  )
}

/**
 * Polls until the cluster is as created: every node says `cluster_state:ok`, every node's view
 * names the same three nodes as replicas, and each of them is in sync with its master. Views are
 * spread by gossip, slowly with a long cluster-node-timeout; a node that still took a replica for
 * a master would send a test's command to the wrong node.
 */
async function waitForClusterOk(
  ports: number[],
  access: NodeAccess,
  timeoutMs: number,
): Promise<void> {
  const what = 'every node to say cluster_state:ok and to know the three replicas, each in sync'
  await waitUntil(
    what,
    async () => {
      const views = await Promise.all(
        ports.map(async (port) => {
          const info = await ask(port, access, 'CLUSTER', 'INFO').catch(() => '')
          if (!info.includes('cluster_state:ok')) return null
          const nodes = parseClusterNodes(
            await ask(port, access, 'CLUSTER', 'NODES').catch(() => ''),
          )
          const replicas = nodes.filter((node) => node.role === 'replica').map((node) => node.port)
          return replicas.sort((a, b) => a - b).join(',')
        }),
      )
      const [first] = views
      if (!first || views.some((view) => view !== first) || first.split(',').length !== 3) {
        return false
      }
      const links = await Promise.all(
        first
          .split(',')
          .map((port) => ask(Number(port), access, 'INFO', 'replication').catch(() => '')),
      )
      // A replica that has not synced yet could not take over from its master.
      return links.every((info) => info.includes('master_link_status:up'))
    },
    { timeoutMs, intervalMs: 50 },
  )
}

/** One command to one node on a connection of its own, answered as a string. */
async function ask(port: number, access: NodeAccess, ...command: string[]): Promise<string> {
  const redis = new Redis({
    ...nodeOptions(access),
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
  })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    const [name = '', ...args] = command
    return String(await redis.call(name, ...args))
  } finally {
    redis.disconnect()
  }
}

/** A node's host, and the password and TLS a connection to it needs. */
function nodeOptions(access: NodeAccess): Pick<RedisOptions, 'host' | 'password' | 'tls'> {
  return {
    host: '127.0.0.1',
    ...(access.password !== undefined && { password: access.password }),
    ...(access.tls && { tls: { ca: access.tls.ca } }),
  }
}

export function parseClusterNodes(text: string): ClusterNodeState[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      // <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges…>
      const [id = '', address = '', flags = '', master = '-', ...rest] = line.split(' ')
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        role: flags.includes('master') ? ('master' as const) : ('replica' as const),
        masterId: master === '-' ? null : master,
        failed: /\bfail\b/.test(flags),
        slots: rest
          .slice(4)
          .filter((range) => /^\d+(-\d+)?$/.test(range))
          .map((range): [number, number] => {
            const [from = 0, to = from] = range.split('-').map(Number)
            return [from, to]
          }),
      }
    })
}

/**
 * `count` ports free on 127.0.0.1 whose bus ports (+10000) are free too. Drawn at random, so
 * test files starting clusters at once rarely meet; a port taken between this check and the
 * node's start makes that node exit, which startRedisCluster reports.
 */
async function freeClusterPorts(count: number): Promise<number[]> {
  const chosen: number[] = []
  for (let tries = 0; chosen.length < count; tries++) {
    if (tries > 1_000) throw new Error('no free ports for a Redis Cluster')
    const port = randomInt(PORT_RANGE.from, PORT_RANGE.to)
    if (chosen.includes(port) || chosen.includes(port + BUS_PORT_OFFSET)) continue
    if ((await isFree(port)) && (await isFree(port + BUS_PORT_OFFSET))) chosen.push(port)
  }
  return chosen
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
