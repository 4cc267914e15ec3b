import { isIPv4, isIPv6 } from 'node:net'

/**
 * The unit a per-IP limit counts: an IPv4 address as is, an IPv6 address by its /64 (one customer
 * network gets a whole /64, so single addresses would be free to rotate). IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`, what a dual-stack socket reports) is the IPv4 address. null when unusable.
 */
export function clientIpGroup(ip: string | null | undefined): string | null {
  if (!ip) return null
  const address = ip.trim().replace(/^\[(.*)\]$/, '$1')
  if (isIPv4(address)) return address
  // A zone id (fe80::1%eth0) names the local interface, not the client.
  const bare = address.split('%')[0] ?? ''
  if (!isIPv6(bare)) return null
  const groups = expandIpv6(bare)
  if (groups.slice(0, 5).every((group) => group === '0000') && groups[5] === 'ffff') {
    const [high = 0, low = 0] = groups.slice(6).map((group) => parseInt(group, 16))
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}

/** Eight four-digit lower-case groups; an embedded dotted IPv4 tail becomes two groups. */
function expandIpv6(address: string): string[] {
  let text = address.toLowerCase()
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    const tail = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
    text = text.slice(0, dotted.index) + tail
  }
  const [head = '', tail] = text.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const missing = tail === undefined ? 0 : 8 - left.length - right.length
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((group) =>
    group.padStart(4, '0'),
  )
}
