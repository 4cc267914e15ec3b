import { describe, expect, it } from 'vitest'
import { clientIpGroup } from './client-ip-group.ts'

describe('clientIpGroup', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:cb00:7107', '203.0.113.7'],
    ['0:0:0:0:0:ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8:0:0:8000::1', '2001:db8:0:0::/64'],
    ['[2001:db8:a:b::1]', '2001:db8:a:b::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::', '0:0:0:0::/64'],
    ['64:ff9b::203.0.113.7', '64:ff9b:0:0::/64'],
  ])('%s counts as %s', (ip, group) => {
    expect(clientIpGroup(ip)).toBe(group)
  })

  it('puts every address of one /64 in one group and neighbouring /64s apart', () => {
    expect(clientIpGroup('2001:db8:1:2::a')).toBe(clientIpGroup('2001:db8:1:2:ffff::b'))
    expect(clientIpGroup('2001:db8:1:2::a')).not.toBe(clientIpGroup('2001:db8:1:3::a'))
  })

  it.each([null, undefined, '', 'localhost', '1.2.3', '300.1.1.1', 'not an ip', '1::2::3'])(
    'is null for %j',
    (ip) => {
      expect(clientIpGroup(ip)).toBeNull()
    },
  )
})
