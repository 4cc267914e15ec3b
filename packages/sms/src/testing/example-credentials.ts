/**
 * Well-formed but made-up credentials of each provider, as environment variables: what tests feed
 * the configuration checks. None of them opens an account anywhere.
 */
export const RONGLIAN = {
  RONGLIAN_ACCOUNT_SID: '8a216da8662360a4016629c6ed8f1e65',
  RONGLIAN_AUTH_TOKEN: '5bc1f4a0f4f54ab6a3b4f3e4c1d2e3f4',
  RONGLIAN_APP_ID: '8aaf0708a9c4f1e2015ad2b3c4d5e6f7',
  RONGLIAN_TEMPLATE_ID: '1',
}
/** The same Ronglian account as the fake provider takes it (`startFakeRonglian`). */
export const RONGLIAN_ACCOUNT = {
  accountSid: RONGLIAN.RONGLIAN_ACCOUNT_SID,
  authToken: RONGLIAN.RONGLIAN_AUTH_TOKEN,
  appId: RONGLIAN.RONGLIAN_APP_ID,
}
export const ALIYUN = {
  ALIYUN_ACCESS_KEY_ID: 'LTAI5tRqBv9xExampleKey01',
  ALIYUN_ACCESS_KEY_SECRET: 'Zx8wQ3rT6yU9iO2pA5sD8fG1hJ4kL7',
  ALIYUN_SMS_SIGN_NAME: '阿里云短信测试',
  ALIYUN_SMS_TEMPLATE_CODE: 'SMS_154950909',
}
export const TENCENT = {
  TENCENT_SECRET_ID: 'AKIDz8krbsJ5yKBZQpn74WFkmLPxTESTEXAMPLE',
  TENCENT_SECRET_KEY: 'Gu5t9xGARNpq86cd98joQYCN3TESTKEY',
  TENCENT_SMS_SDK_APP_ID: '1400006666',
  TENCENT_SMS_SIGN_NAME: '腾讯云',
  TENCENT_SMS_TEMPLATE_ID: '449739',
}
export const TWILIO = {
  TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
  TWILIO_AUTH_TOKEN: '0123456789abcdef0123456789abcdef',
  TWILIO_FROM: '+15005550006',
}
