#!/usr/bin/env node
// tsx is resolved from this package, so the command works from any directory.
import { register } from 'tsx/esm/api'

register()
await import('../src/main.ts')
