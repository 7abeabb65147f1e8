#!/usr/bin/env node
// otp-chat-ctl: the operator's command line (ejabberdctl's role). See runCtl for the exit codes.
import { readFileSync } from 'node:fs';
import { runCtl } from './ctl.ts';

process.exitCode = await runCtl(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => readFileSync(path, 'utf8'),
});
