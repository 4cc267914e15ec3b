import { connect } from 'node:net'
import type { Socket } from 'node:net'

/** An answer read off a raw socket. */
export interface RawAnswer {
  status: number
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
}

/**
 * Sends `request` exactly as written (request line and headers that fetch will not send: `*`,
 * an absolute target, CONNECT, a Host with user info, two Hosts) and reads one answer: up to its
 * Content-Length, the end of a chunked body, or the connection's close. Rejects when none comes
 * within `timeoutMs`.
 */
export function rawRequest(port: number, request: string, timeoutMs = 15_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    // The answer to HEAD has no body, whatever its Content-Length says.
    const headOnly = request.startsWith('HEAD ')
    const socket = connect(port, '127.0.0.1', () => socket.write(request))
    let received = Buffer.alloc(0)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(request)}`))
    }, timeoutMs)
    const finish = (answer: RawAnswer): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const answer = parseAnswer(received, false, headOnly)
      if (answer) finish(answer)
    })
    socket.on('close', () => {
      const answer = parseAnswer(received, true, headOnly)
      if (answer) return finish(answer)
      clearTimeout(timer)
      reject(new Error(`connection closed without an answer to ${JSON.stringify(request)}`))
    })
    socket.on('error', () => undefined)
  })
}

function parseAnswer(bytes: Buffer, closed: boolean, headOnly: boolean): RawAnswer | null {
  const end = bytes.indexOf('\r\n\r\n')
  if (end === -1) return null
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const rest = bytes.subarray(end + 4)
  const status = Number(statusLine.split(' ')[1])
  if (headOnly) return { status, headers, body: '' }
  const length = headers['content-length']
  if (length !== undefined) {
    if (rest.length < Number(length)) return null
    return { status, headers, body: rest.subarray(0, Number(length)).toString('utf8') }
  }
  if (headers['transfer-encoding'] === 'chunked') {
    const text = rest.toString('latin1')
    if (!text.endsWith('0\r\n\r\n')) return null
    return { status, headers, body: dechunk(rest) }
  }
  return closed ? { status, headers, body: rest.toString('utf8') } : null
}

function dechunk(bytes: Buffer): string {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at)
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16)
    if (!size) break
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts).toString('utf8')
}

/** A connection that sends nothing yet; `closed` (the stream's own) turns true once it is closed. */
export async function openIdle(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  await new Promise((resolve) => socket.once('connect', resolve))
  return socket
}
