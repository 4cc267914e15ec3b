import { createHash } from 'node:crypto'
import { header, isStringArray, startFakeProvider } from './fake-server.ts'
import { parseJsonObject } from '../provider-http.ts'
import type { FakeProvider, ReceivedRequest } from './fake-server.ts'

export interface FakeRonglianOptions {
  accountSid: string
  authToken: string
  appId: string
  /** The fake's clock, to check the request timestamp against. */
  now?: () => Date
}

/**
 * Ronglian's template SMS endpoint, checking each request as Ronglian does: the path names the
 * account, `sig` is the upper-case MD5 of sid + token + timestamp, Authorization is base64 of
 * `sid:timestamp` with a Beijing-time timestamp close to now, and the JSON body is complete.
 */
export function startFakeRonglian(options: FakeRonglianOptions): Promise<FakeProvider> {
  return startFakeProvider({
    check: (request) => checkRonglianRequest(request, options),
    refuse: (problems) => ({
      status: 200,
      body: JSON.stringify({ statusCode: '111109', statusMsg: `请求无效: ${problems[0]}` }),
    }),
    answer(behaviour) {
      if (behaviour.kind === 'error') {
        return {
          status: behaviour.status ?? 200,
          body: JSON.stringify({
            statusCode: behaviour.code,
            statusMsg: behaviour.message ?? RONGLIAN_MESSAGES[behaviour.code] ?? '未知错误',
          }),
        }
      }
      return {
        status: 200,
        body: JSON.stringify({
          statusCode: '000000',
          templateSMS: { dateCreated: '20240101120000', smsMessageSid: 'ff80808150a0b0c0' },
        }),
      }
    },
  })
}

export const RONGLIAN_MESSAGES: Record<string, string> = {
  '160038': '短信验证码发送过频繁',
  '160040': '验证码超出同模板同号码天发送上限',
  '160032': '短信模板无效',
  '112311': '短信模板不存在',
  '160042': '号码格式有误',
  '160014': '短信通道余额不足',
  '160000': '系统错误',
}

export function checkRonglianRequest(
  request: ReceivedRequest,
  options: FakeRonglianOptions,
): string[] {
  const problems: string[] = []
  if (request.method !== 'POST') problems.push(`method ${request.method}, expected POST`)
  const expectedPath = `/2013-12-26/Accounts/${options.accountSid}/SMS/TemplateSMS`
  if (request.path !== expectedPath) problems.push(`path ${request.path}, expected ${expectedPath}`)

  const decoded = Buffer.from(header(request, 'authorization'), 'base64').toString('utf8')
  const [sid, timestamp = ''] = decoded.split(':')
  if (sid !== options.accountSid) problems.push('Authorization does not name the account')
  if (!/^\d{14}$/.test(timestamp)) {
    problems.push(`Authorization timestamp ${JSON.stringify(timestamp)} is not yyyyMMddHHmmss`)
  } else {
    const skewMs = Math.abs(
      beijingTimestampToMs(timestamp) - (options.now?.() ?? new Date()).getTime(),
    )
    if (skewMs > 5 * 60_000)
      problems.push(`timestamp ${timestamp} is ${skewMs} ms off Beijing time`)
  }
  const sig = createHash('md5')
    .update(options.accountSid + options.authToken + timestamp)
    .digest('hex')
    .toUpperCase()
  if (request.query.get('sig') !== sig) problems.push('sig does not match MD5(sid+token+timestamp)')

  if (!header(request, 'content-type').startsWith('application/json')) {
    problems.push('content-type is not application/json')
  }
  if (!header(request, 'accept').includes('application/json')) {
    problems.push('accept is not application/json')
  }
  const body = parseJsonObject(request.body)
  if (!body) return [...problems, 'body is not a JSON object']
  if (typeof body.to !== 'string' || !/^1[3-9]\d{9}$/.test(body.to)) {
    problems.push(`to ${JSON.stringify(body.to)} is not a mainland mobile`)
  }
  if (body.appId !== options.appId) problems.push('appId does not match the account application')
  if (typeof body.templateId !== 'string' || !/^\d+$/.test(body.templateId)) {
    problems.push('templateId is not a numeric string')
  }
  if (!isStringArray(body.datas)) problems.push('datas is not an array of strings')
  return problems
}

function beijingTimestampToMs(timestamp: string): number {
  const part = (from: number, to: number) => Number(timestamp.slice(from, to))
  return (
    Date.UTC(part(0, 4), part(4, 6) - 1, part(6, 8), part(8, 10), part(10, 12), part(12, 14)) -
    8 * 3_600_000
  )
}
