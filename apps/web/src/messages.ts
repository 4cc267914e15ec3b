import { RET } from '@signup/trpc/ret'

/** The page's words in each language; zh-CN is the default, as the original's users expect. */
export const MESSAGES = {
  'zh-CN': {
    title: '手机号注册',
    subtitle: '输入手机号和图片验证码，获取短信验证码。',
    switchLanguage: 'English',
    mobileLabel: '手机号',
    mobilePlaceholder: '11 位手机号',
    imageCodeLabel: '图片验证码',
    imageCodePlaceholder: '4 位字符',
    captchaAlt: '图片验证码',
    captchaRefresh: '看不清？点击图片换一张',
    captchaLoading: '加载中…',
    submit: '获取验证码',
    sending: '发送中…',
    resendIn: (seconds: number) => `${seconds} 秒后重发`,
    sentTo: (masked: string) => `验证码已发送至 ${masked}`,
    retry: '重试',
    mobileInvalid: '手机号不正确',
    imageCodeRequired: '请输入图片验证码',
    captchaUnavailable: '图片验证码加载失败，请点击重试',
    network: '网络异常，请检查网络后重试',
    registerTitle: '完成注册',
    smsCodeLabel: '短信验证码',
    smsCodePlaceholder: '6 位数字',
    passwordLabel: '设置密码',
    passwordPlaceholder: '8 到 128 个字符',
    register: '注册',
    registering: '注册中…',
    signedInTitle: '注册成功',
    signedInAs: (name: string) => `已登录：${name}`,
    logout: '退出登录',
    loggingOut: '正在退出…',
  },
  en: {
    title: 'Sign up with your phone',
    subtitle: 'Enter your mobile number and the code in the image to get an SMS code.',
    switchLanguage: '中文',
    mobileLabel: 'Mobile number',
    mobilePlaceholder: '11-digit mobile number',
    imageCodeLabel: 'Image code',
    imageCodePlaceholder: '4 characters, any case',
    captchaAlt: 'Image code',
    captchaRefresh: 'Hard to read? Click the image for a new one',
    captchaLoading: 'Loading…',
    submit: 'Get SMS code',
    sending: 'Sending…',
    resendIn: (seconds: number) => `Resend in ${seconds} s`,
    sentTo: (masked: string) => `Code sent to ${masked}`,
    retry: 'Try again',
    mobileInvalid: 'This is not a valid mobile number',
    imageCodeRequired: 'Enter the code shown in the image',
    captchaUnavailable: 'The image could not be loaded; click to try again',
    network: 'Network problem; check your connection and try again',
    registerTitle: 'Finish signing up',
    smsCodeLabel: 'SMS code',
    smsCodePlaceholder: '6 digits',
    passwordLabel: 'Choose a password',
    passwordPlaceholder: '8 to 128 characters',
    register: 'Sign up',
    registering: 'Signing up…',
    signedInTitle: 'You are signed up',
    signedInAs: (name: string) => `Signed in as ${name}`,
    logout: 'Sign out',
    loggingOut: 'Signing out…',
  },
} as const

export type Locale = keyof typeof MESSAGES
export type Messages = (typeof MESSAGES)[Locale]

/** English texts for the server's refusals (its errmsg is zh-CN), by errno and field. */
export function englishRefusal(errno: number, field: string | undefined): string {
  switch (errno) {
    case RET.DBERR:
      return 'Our storage is not answering; please try again in a moment'
    case RET.NODATA:
      return field === 'smsCode'
        ? 'The SMS code has expired or was used; request a new one'
        : 'The image code has expired; a new one is shown'
    case RET.DATAEXIST:
      return 'This mobile number is already registered'
    case RET.DATAERR:
      if (field === 'mobile') return 'This is not a valid mobile number'
      if (field === 'smsCode') return 'The SMS code is wrong'
      return 'The image code is wrong; a new one is shown'
    case RET.PARAMERR:
      return field === 'password'
        ? 'The password must be 8 to 128 characters'
        : 'Please fill in every field'
    case RET.REQERR:
      return 'Too many requests; please wait before trying again'
    case RET.THIRDERR:
      return 'The SMS could not be sent; please try again'
    default:
      return 'Something went wrong; please try again'
  }
}
