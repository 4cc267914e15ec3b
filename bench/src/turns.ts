import { readdirSync, readFileSync } from 'node:fs'
import type autocannon from 'autocannon'
import { runClosingLoad, runLoad } from './load.ts'
import type { LoadFigures } from './load.ts'

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100

/** The pids of a process's children, as every one of its threads lists them in /proc. */
export function childPids(pid: number): number[] {
  const listed = (file: string): number[] => {
    try {
      return readFileSync(file, 'utf8').split(' ').filter(Boolean).map(Number)
    } catch {
      return [] // the thread or the process has just exited
    }
  }
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      listed(`/proc/${pid}/task/${tid}/children`),
    )
  } catch {
    return []
  }
}

/**
 * CPU time, user and system, in ms, of a server and the processes under it: a gunicorn master's or
 * a cluster primary's workers, the live ones and (through the parent's cutime and cstime) those it
 * has reaped, so a worker replaced during a turn still counts.
 */
export function cpuMs(pid: number): number {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return 0 // a worker that exited since it was listed: its parent's cutime has it once reaped
  }
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
  const ticks = [11, 12, 13, 14].reduce((sum, field) => sum + Number(fields[field]), 0)
  const own = (ticks * 1000) / TICKS_PER_SECOND
  return childPids(pid).reduce((sum, child) => sum + cpuMs(child), own)
}

/** Lists some processes' ids, at the moment it is called. */
export type ProcessList = () => readonly number[] | Promise<readonly number[]>

/** One contestant of a run in turns: a server and the requests that drive it. */
export interface Contestant {
  label: string
  url: string
  /** The server's processes (the instances behind a balancer): their CPU time per request, summed. */
  pids: readonly number[]
  /**
   * Other processes whose CPU time per request is reported apart, by name (a balancer, Redis's
   * nodes, the database's backends), listed afresh before and after each turn.
   */
  alsoMeasured?: Readonly<Record<string, ProcessList>>
  requests: () => autocannon.Request[]
  /** The server closes every connection after its answer: driven by runClosingLoad. */
  closesConnections?: boolean
}

/** How long and how hard runInTurns drives each contestant. */
export interface TurnOptions {
  turns: number
  seconds: number
  warmupSeconds: number
  connections: number
}

export interface TurnFigures {
  rps: number[]
  p99: number[]
  /** Server CPU per request, µs. */
  cpuUs: number[]
  /** The CPU per request, µs, of each group of `alsoMeasured`. */
  alsoCpuUs: Record<string, number[]>
  /** The load generator's CPU per request, µs: this process, autocannon in it. */
  loadGeneratorCpuUs: number[]
  /** How busy the machine's cores were over the turn, 0 to 1 (every process, others' work too). */
  machineBusy: number[]
  non2xx: number[]
  errors: number[]
}

/** The machine's CPU time over all cores since boot, busy and in all, in ticks (/proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const [, ...fields] =
    readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/) ?? []
  // user nice system idle iowait irq softirq steal (guest time is counted in user already)
  const ticks = fields.slice(0, 8).map(Number)
  const total = ticks.reduce((sum, value) => sum + value, 0)
  return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total }
}

const sumCpuMs = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + cpuMs(pid), 0)

/** The CPU time of each process of every group, ms. */
async function cpuByGroup(
  groups: Readonly<Record<string, ProcessList>>,
): Promise<Map<string, Map<number, number>>> {
  const entries = await Promise.all(
    Object.entries(groups).map(async ([name, list]) => {
      const pids = await list()
      return [name, new Map(pids.map((pid) => [pid, cpuMs(pid)]))] as const
    }),
  )
  return new Map(entries)
}

/**
 * The CPU time each group used between two readings, ms: a process that appeared meanwhile counts
 * whole (it started then), one that exited meanwhile is missed.
 */
function cpuUsedByGroup(
  before: Map<string, Map<number, number>>,
  after: Map<string, Map<number, number>>,
): Map<string, number> {
  return new Map(
    [...after].map(([name, now]) => {
      const then = before.get(name)
      const used = [...now].reduce((sum, [pid, ms]) => sum + ms - (then?.get(pid) ?? 0), 0)
      return [name, used]
    }),
  )
}

export const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN

/**
 * Drives each contestant for `seconds`, one after the other, `turns` times, in reverse order every
 * other turn, so that a machine's drift over the minutes weighs on each alike: figures are compared
 * as ratios within a turn, never across minutes.
 */
export async function runInTurns(
  contestants: readonly Contestant[],
  options: TurnOptions,
): Promise<Map<string, TurnFigures>> {
  const drive = (contestant: Contestant, duration: number): Promise<LoadFigures> =>
    (contestant.closesConnections ? runClosingLoad : runLoad)({
      url: contestant.url,
      connections: options.connections,
      duration,
      requests: contestant.requests(),
    })
  for (const contestant of contestants) await drive(contestant, options.warmupSeconds)
  const figures = new Map<string, TurnFigures>(
    contestants.map((c) => [
      c.label,
      {
        rps: [],
        p99: [],
        cpuUs: [],
        alsoCpuUs: {},
        loadGeneratorCpuUs: [],
        machineBusy: [],
        non2xx: [],
        errors: [],
      },
    ]),
  )
  for (let turn = 0; turn < options.turns; turn++) {
    const order = turn % 2 === 0 ? contestants : [...contestants].reverse()
    for (const contestant of order) {
      const alsoBefore = await cpuByGroup(contestant.alsoMeasured ?? {})
      const cpuBefore = sumCpuMs(contestant.pids)
      const ownBefore = process.cpuUsage()
      const machineBefore = machineTicks()
      const result = await drive(contestant, options.seconds)
      const machineAfter = machineTicks()
      const own = process.cpuUsage(ownBefore)
      const cpuAfter = sumCpuMs(contestant.pids)
      const alsoUsed = cpuUsedByGroup(alsoBefore, await cpuByGroup(contestant.alsoMeasured ?? {}))
      const entry = figures.get(contestant.label)
      if (!entry) continue
      const perRequestUs = (ms: number): number => (ms * 1000) / result.requests.total
      entry.rps.push(result.requests.average)
      entry.p99.push(result.latency.p99)
      entry.cpuUs.push(perRequestUs(cpuAfter - cpuBefore))
      for (const [name, ms] of alsoUsed) (entry.alsoCpuUs[name] ??= []).push(perRequestUs(ms))
      entry.loadGeneratorCpuUs.push(perRequestUs((own.user + own.system) / 1000))
      entry.machineBusy.push(
        (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
      )
      entry.non2xx.push(result.non2xx)
      entry.errors.push(result.errors + result.timeouts)
    }
  }
  return figures
}

/**
 * Each turn's CPU per request over every process measured: the server, each group of
 * `alsoMeasured` and the load generator. Where they share the machine's cores, the ratio of two
 * contestants' requests/s follows this.
 */
export function wholeCpuUs(entry: TurnFigures): number[] {
  return entry.cpuUs.map(
    (server, turn) =>
      server +
      Object.values(entry.alsoCpuUs).reduce((sum, group) => sum + (group[turn] ?? 0), 0) +
      (entry.loadGeneratorCpuUs[turn] ?? 0),
  )
}

/**
 * The medians of wholeCpuUs's parts, µs per request, named: `server 420 + Redis 76 + Postgres 92 +
 * load generator 113 = 701`.
 */
export function cpuParts(entry: TurnFigures): string {
  const parts = [
    `server ${median(entry.cpuUs).toFixed(0)}`,
    ...Object.entries(entry.alsoCpuUs).map(([name, us]) => `${name} ${median(us).toFixed(0)}`),
    `load generator ${median(entry.loadGeneratorCpuUs).toFixed(0)}`,
  ]
  return `${parts.join(' + ')} = ${median(wholeCpuUs(entry)).toFixed(0)}`
}

/** Each turn's figure over the reference's figure in the same turn, then the median. */
export function medianRatio(
  figures: Map<string, TurnFigures>,
  label: string,
  reference: string,
  field: 'rps' | 'cpuUs' = 'rps',
): number {
  const own = figures.get(label)?.[field] ?? []
  const base = figures.get(reference)?.[field] ?? []
  return median(own.map((value, turn) => value / (base[turn] ?? NaN)))
}
