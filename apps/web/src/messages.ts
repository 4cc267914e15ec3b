import { RET } from '@signup/trpc/ret'

/** The pages' words in each language; zh-CN is the default, as the original's users expect. */
export const MESSAGES = {
  'zh-CN': {
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
    retryIn: (seconds: number) => `${seconds} 秒后重试`,
    mobileInvalid: '手机号不正确',
    imageCodeRequired: '请输入图片验证码',
    captchaUnavailable: '图片验证码加载失败，请点击重试',
    network: '网络异常，请检查网络后重试',
    smsCodeLabel: '短信验证码',
    smsCodePlaceholder: '6 位数字',
    passwordPlaceholder: '8 到 128 个字符',
    signedInAs: (name: string) => `已登录：${name}`,
    welcomeBack: '欢迎回来',
    logout: '退出登录',
    loggingOut: '正在退出…',
    otherPages: '其他操作',
    links: { login: '已有账号？登录', reset: '忘记密码？', signup: '没有账号？注册' },
    // Each page's own words; `done` heads the signed-in state after its form succeeded.
    signup: {
      title: '手机号注册',
      subtitle: '输入手机号和图片验证码，获取短信验证码。',
      stepTitle: '完成注册',
      passwordLabel: '设置密码',
      submit: '注册',
      pending: '注册中…',
      done: '注册成功',
    },
    login: {
      title: '登录',
      methods: '登录方式',
      byPassword: '密码登录',
      bySmsCode: '验证码登录',
      passwordLabel: '密码',
      passwordPlaceholder: '输入密码',
      subtitle: '未注册的手机号验证后将自动创建账号。',
      stepTitle: '输入短信验证码',
      submit: '登录',
      pending: '登录中…',
      done: '登录成功',
      created: '该手机号此前未注册，已为你创建账号。如需密码登录，请通过“忘记密码”设置密码。',
    },
    reset: {
      title: '重置密码',
      subtitle: '输入注册的手机号和图片验证码，获取短信验证码后设置新密码。',
      sentTo: (masked: string) => `如 ${masked} 已注册，验证码已发送`,
      stepTitle: '设置新密码',
      passwordLabel: '新密码',
      submit: '重置密码',
      pending: '重置中…',
      done: '密码已重置',
    },
  },
  en: {
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
    retryIn: (seconds: number) => `Try again in ${seconds} s`,
    mobileInvalid: 'This is not a valid mobile number',
    imageCodeRequired: 'Enter the code shown in the image',
    captchaUnavailable: 'The image could not be loaded; click to try again',
    network: 'Network problem; check your connection and try again',
    smsCodeLabel: 'SMS code',
    smsCodePlaceholder: '6 digits',
    passwordPlaceholder: '8 to 128 characters',
    signedInAs: (name: string) => `Signed in as ${name}`,
    welcomeBack: 'Welcome back',
    logout: 'Sign out',
    loggingOut: 'Signing out…',
    otherPages: 'More',
    links: {
      login: 'Have an account? Sign in',
      reset: 'Forgot password?',
      signup: 'No account? Sign up',
    },
    signup: {
      title: 'Sign up with your phone',
      subtitle: 'Enter your mobile number and the code in the image to get an SMS code.',
      stepTitle: 'Finish signing up',
      passwordLabel: 'Choose a password',
      submit: 'Sign up',
      pending: 'Signing up…',
      done: 'You are signed up',
    },
    login: {
      title: 'Sign in',
      methods: 'How to sign in',
      byPassword: 'With password',
      bySmsCode: 'With SMS code',
      passwordLabel: 'Password',
      passwordPlaceholder: 'Your password',
      subtitle: 'A number without an account gets one once its code is verified.',
      stepTitle: 'Enter the SMS code',
      submit: 'Sign in',
      pending: 'Signing in…',
      done: 'You are signed in',
      created:
        'This number had no account, so one was made. To sign in with a password, set one with “Forgot password?”.',
    },
    reset: {
      title: 'Reset your password',
      subtitle:
        'Enter your mobile number and the code in the image to get an SMS code, then choose a new password.',
      sentTo: (masked: string) => `If ${masked} has an account, a code was sent to it`,
      stepTitle: 'Choose a new password',
      passwordLabel: 'New password',
      submit: 'Reset password',
      pending: 'Resetting…',
      done: 'Your password is reset',
    },
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
    case RET.LOGINERR:
      return 'The mobile number or the password is wrong'
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
