// ejabberd 23.01 from Debian, the baseline of bench/xmpp: started on a free port with its own config
// in a temp dir owned by the ejabberd user (loopback only, in-memory sessions, plain TCP, ulimit -n
// raised), N users registered over distributed Erlang, stopped at the end.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { selfSignedCertificate } from '@otp-chat/xmpp';
import { DOMAIN, N, PASSWORD, PASSWORD_FORMAT, type ServerHandle, TRANSPORT } from './shared.ts';

const run = promisify(execFile);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const EJABBERD_YML = (port: number, extraModules: string, certfile: string | undefined) => `hosts: [${DOMAIN}]
loglevel: warning
${certfile === undefined ? '' : `certfiles:\n  - "${certfile}"\n`}listen:
  - port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    backlog: 1024
    access: c2s
    starttls: ${certfile !== undefined}
    starttls_required: false
auth_method: internal
auth_password_format: ${PASSWORD_FORMAT}
sm_db_type: mnesia
router_db_type: mnesia
shaper_rules:
  max_user_sessions: 10
access_rules:
  c2s:
    allow: all
  local:
    allow: local
acl:
  local:
    user_regexp: ""
api_permissions:
  "console commands":
    from: [ejabberd_ctl]
    who: all
    what: "*"
modules:
  mod_disco: {}
  mod_ping: {}
  mod_offline: {}
${extraModules}`;

function pidsOf(name: string): Set<string> {
  try {
    return new Set(execFileSync('pgrep', ['-x', name]).toString().trim().split('\n').filter(Boolean));
  } catch {
    return new Set();
  }
}

/** What a round needs beyond the default config (the presence round: `mod_roster` and rosters). */
export interface EjabberdOptions {
  /** Users u0…u(n-1) registered. @default N */
  readonly n?: number;
  /** YAML lines appended under `modules:` (e.g. `  mod_roster: {}`). */
  readonly modules?: string;
  /** An Erlang expression run once the users are registered, `N` bound to the node. */
  readonly setup?: string;
}

export async function startEjabberd(options: EjabberdOptions = {}): Promise<ServerHandle | string> {
  try {
    execFileSync('which', ['ejabberdctl']);
  } catch {
    return 'ejabberdctl not found (apt-get install ejabberd)';
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'otp-chat-ejabberd-'));
  const node = `otpchat${process.pid}@localhost`;
  for (const sub of ['spool', 'logs', 'run']) mkdirSync(join(dir, sub));
  // TRANSPORT=starttls: a self-signed certificate (its key in the same file, as ejabberd reads it).
  const pem = TRANSPORT === 'starttls' ? await selfSignedCertificate(DOMAIN) : undefined;
  const certfile = pem === undefined ? undefined : join(dir, 'server.pem');
  if (pem !== undefined && certfile !== undefined)
    writeFileSync(certfile, `${pem.cert}${pem.key}`, { mode: 0o600 });
  writeFileSync(join(dir, 'ejabberd.yml'), EJABBERD_YML(port, options.modules ?? '', certfile));
  writeFileSync(
    join(dir, 'ejabberdctl.cfg'),
    `ERLANG_NODE=${node}\nINET_DIST_INTERFACE=127.0.0.1\nEJABBERD_PID_PATH=${join(dir, 'run', 'ejabberd.pid')}\n`,
  );
  const uid = Number(execFileSync('id', ['-u', 'ejabberd']).toString());
  const gid = Number(execFileSync('id', ['-g', 'ejabberd']).toString());
  for (const p of [
    '',
    'spool',
    'logs',
    'run',
    'ejabberd.yml',
    'ejabberdctl.cfg',
    ...(pem ? ['server.pem'] : []),
  ])
    chownSync(join(dir, p), uid, gid);
  const ctl = [
    '--ctl-config',
    join(dir, 'ejabberdctl.cfg'),
    '--config',
    join(dir, 'ejabberd.yml'),
    '--spool',
    join(dir, 'spool'),
    '--logs',
    join(dir, 'logs'),
    '--node',
    node,
  ];
  const epmdBefore = pidsOf('epmd');
  const stop = async () => {
    try {
      await run('ejabberdctl', [...ctl, 'stop'], { timeout: 60_000 });
      await run('ejabberdctl', [...ctl, 'stopped'], { timeout: 60_000 });
    } finally {
      // Only an epmd this run started is ours to stop.
      for (const p of pidsOf('epmd')) if (!epmdBefore.has(p)) process.kill(Number(p));
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const shell = `ulimit -n 20000; cd ${dir}/spool; ejabberdctl ${ctl.join(' ')} start`;
  await run('su', ['-s', '/bin/bash', 'ejabberd', '-c', shell]);
  try {
    return {
      ...(await prepareEjabberd(ctl, node, port, dir, stop, options.setup, options.n ?? N)),
      ...(pem ? { cert: pem.cert } : {}),
    };
  } catch (error) {
    // What ejabberd said, before its folder goes; then the first failure, not stop's.
    try {
      process.stderr.write(readFileSync(join(dir, 'logs', 'error.log'), 'utf8').slice(-2000));
    } catch {}
    await stop().catch(() => {});
    throw error;
  }
}

async function prepareEjabberd(
  ctl: readonly string[],
  node: string,
  port: number,
  dir: string,
  stop: () => Promise<void>,
  setup: string | undefined,
  n: number,
): Promise<ServerHandle> {
  await run('ejabberdctl', [...ctl, 'started'], { timeout: 60_000 });
  const cookie = readFileSync('/var/lib/ejabberd/.erlang.cookie', 'utf8').trim();
  const rpc = async (expr: string): Promise<string> => {
    const { stdout } = await run(
      'erl',
      [
        '-sname',
        `bench${process.pid}${Math.floor(Math.random() * 1e6)}@localhost`,
        '-setcookie',
        cookie,
        '-noshell',
        '-eval',
        `N='${node}', R=begin ${expr} end, io:format("~p~n", [R]), init:stop().`,
      ],
      { timeout: 120_000, cwd: dir },
    );
    return stdout.trim();
  };
  await rpc(
    `[rpc:call(N, ejabberd_auth, try_register, [list_to_binary("u"++integer_to_list(I)), <<"${DOMAIN}">>, <<"${PASSWORD}">>]) || I <- lists:seq(0, ${n - 1})], ok`,
  );
  if (setup !== undefined) await rpc(setup);
  const beamPid = async () => (await rpc('rpc:call(N, os, getpid, [])')).replace(/"/g, '');
  const pid = await beamPid();
  return {
    name: 'ejabberd 23.01',
    port,
    transport: 'xmpp',
    memory: async () => Number(await rpc('rpc:call(N, erlang, memory, [total])')),
    rss: async () => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    },
    cpu: async () => {
      // utime and stime, fields 14 and 15 of /proc/pid/stat, in clock ticks (100 Hz).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    stop,
  };
}
