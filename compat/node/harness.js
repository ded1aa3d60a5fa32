// The compatibility harness: a real `roost serve` per test, a scripted person over the client API
// and its WebSocket event stream, and bot processes started from bots/.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const WebSocket = require('ws');

const REPO = path.resolve(__dirname, '..', '..');
const ROOST_BIN = process.env.ROOST_BIN || path.join(REPO, 'target', 'debug', 'roost');

// In the PostgreSQL pass (ROOST_COMPAT_POSTGRES=postgres://user@host:port/) every server gets a new
// database on that PostgreSQL server; otherwise SQLite in its data directory.
const POSTGRES = (process.env.ROOST_COMPAT_POSTGRES || '').replace(/\/+$/, '');

function roostEnv() {
  const env = { ...process.env, RUST_LOG: 'info' };
  delete env.ROOST_DATABASE;
  if (POSTGRES) {
    const name = `roost_compat_${require('node:crypto').randomBytes(8).toString('hex')}`;
    execFileSync('psql', ['-q', `${POSTGRES}/postgres`, '-c', `CREATE DATABASE ${name}`]);
    env.ROOST_DATABASE = `${POSTGRES}/${name}`;
  }
  return env;
}

async function startRoost() {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-compat-node-'));
  const env = roostEnv();
  const child = spawn(ROOST_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--allow-insecure-webhooks'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  const lines = readline.createInterface({ input: child.stderr });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('roost did not start')), 30000);
    lines.on('line', (line) => {
      const match = /addr=(\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(`http://${match[1]}`);
      }
    });
    child.once('exit', () => reject(new Error('roost exited')));
  });
  return {
    base,
    admin: (...args) => execFileSync(ROOST_BIN, ['admin', '--data', data, ...args], { encoding: 'utf8', env }).trim(),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(data, { recursive: true, force: true });
    },
  };
}

/** Starts a bot from bots/ (a script name) or any program (`[command, ...args]`). */
function startBot(script, token, roost, extraEnv = {}) {
  const [command, args] = Array.isArray(script)
    ? [script[0], script.slice(1)]
    : [process.execPath, [path.join(__dirname, 'bots', script)]];
  const child = spawn(command, args, {
    env: { ...process.env, BOT_TOKEN: token, BOT_API_ROOT: roost.base, BOT_API_URL: `${roost.base}/`, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  return {
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    },
  };
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

class Person {
  constructor(base, username, firstName) {
    this.base = base;
    this.username = username;
    this.firstName = firstName;
    this.queue = [];
    this.waiters = [];
  }

  async call(method, params = {}) {
    const headers = { 'content-type': 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const response = await fetch(`${this.base}/client/v1/${method}`, { method: 'POST', headers, body: JSON.stringify(params) });
    const body = await response.json();
    if (!body.ok) throw new Error(`${method}: ${JSON.stringify(body)}`);
    return body.result;
  }

  async register() {
    const result = await this.call('register', { username: this.username, password: 'correct horse battery', first_name: this.firstName });
    this.token = result.token;
    this.user = result.user;
    return this;
  }

  async connect() {
    const url = `${this.base.replace('http://', 'ws://')}/client/v1/events?token=${this.token}`;
    this.socket = new WebSocket(url);
    this.socket.on('message', (data) => {
      const event = JSON.parse(data.toString());
      const waiter = this.waiters.shift();
      if (waiter) waiter(event);
      else this.queue.push(event);
    });
    const ready = await this.nextEvent();
    if (ready.type !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(ready)}`);
    return this;
  }

  nextEvent(timeoutMs = 30000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no event in time')), timeoutMs);
      this.waiters.push((event) => { clearTimeout(timer); resolve(event); });
    });
  }

  /** The next event of `type` whose message (if any) is from `fromId`. */
  async next(type, fromId) {
    for (;;) {
      const event = await this.nextEvent();
      if (event.type !== type) continue;
      if (fromId !== undefined && event.message && event.message.from.id !== fromId) continue;
      return event;
    }
  }

  close() {
    if (this.socket) this.socket.close();
  }
}

/**
 * Runs `scenario(person, botId)` against a fresh Roost with a person "tess_compat" and the bot
 * `botUsername` started from `script`; cleans everything up.
 */
async function withBot(script, botUsername, extraEnv, scenario) {
  const roost = await startRoost();
  const person = await new Person(roost.base, 'tess_compat', 'Tess').register();
  const token = roost.admin('create-bot', '--owner', 'tess_compat', '--username', botUsername);
  const botId = Number(token.split(':')[0]);
  await person.connect();
  const bot = startBot(script, token, roost, extraEnv);
  try {
    await scenario(person, botId, roost);
  } catch (err) {
    console.error(bot.output());
    throw err;
  } finally {
    person.close();
    await bot.stop();
    await roost.stop();
  }
}

module.exports = { startRoost, startBot, freePort, withBot, Person, REPO };
