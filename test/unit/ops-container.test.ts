import { expect } from 'chai';
import { load } from 'js-yaml';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../commands/index.js';
import { CONFIG_KEY_NAMES, envName } from '../../src/config/index.js';
import { ROOT } from '../helpers/cli.js';

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerInstructions(text: string): Array<{ op: string; args: string }> {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** The exec form ["a", "b"] of CMD / ENTRYPOINT / HEALTHCHECK CMD; shell form is refused (no shell to trust). */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  expect(parsed, args).to.be.an('array');
  return parsed as string[];
}

const program = buildProgram({ out: { line() {}, info() {}, ok() {}, warn() {}, error() {}, json() {} }, exitCode: 0 });

function findCommand(name: string): Command | undefined {
  return program.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

/** Asserts `teampass-ws <argv>` names an existing command and only options it has. */
function expectKnownInvocation(argv: string[], where: string): void {
  const [name, ...rest] = argv;
  const cmd = findCommand(name);
  expect(cmd, `${where}: command "${name}"`).to.not.equal(undefined);
  for (const arg of rest.filter((a) => a.startsWith('-'))) {
    const flag = arg.split('=')[0];
    const known = cmd!.options.some((o) => o.long === flag || o.short === flag) || flag === '--help';
    expect(known, `${where}: option ${flag} of ${name}`).to.equal(true);
  }
}

const KNOWN_ENV = new Set([...CONFIG_KEY_NAMES.map(envName), 'TEAMPASS_WS_CONFIG']);

function expectKnownEnv(text: string, where: string): string[] {
  const names = [...new Set(text.match(/TEAMPASS_WS_[A-Z0-9_]+/g) ?? [])];
  for (const name of names) expect(KNOWN_ENV.has(name), `${where}: ${name} is no configuration key`).to.equal(true);
  return names;
}

describe('container files', () => {
  const dockerfileText = readFileSync(path.join(ROOT, 'templates', 'Dockerfile'), 'utf8');
  const composeText = readFileSync(path.join(ROOT, 'templates', 'docker-compose.yml'), 'utf8');

  it('Dockerfile: node:20-slim, npm ci, a non-root user, and a health check and command that exist', () => {
    const ins = dockerInstructions(dockerfileText);
    const froms = ins.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms).to.not.be.empty;
    for (const image of froms) expect(image).to.equal('node:20-slim');
    expect(ins.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args))).to.equal(true);

    const finalStage = ins.slice(ins.map((i) => i.op).lastIndexOf('FROM'));
    const user = finalStage.filter((i) => i.op === 'USER').pop();
    expect(user, 'USER in the final stage').to.not.equal(undefined);
    expect(user!.args).to.not.match(/^(root|0)(:|$)/);

    const entrypoint = execForm(finalStage.find((i) => i.op === 'ENTRYPOINT')!.args);
    expect(entrypoint).to.deep.equal(['teampass-ws']);
    expectKnownInvocation(execForm(finalStage.find((i) => i.op === 'CMD')!.args), 'Dockerfile CMD');

    const health = finalStage.find((i) => i.op === 'HEALTHCHECK');
    expect(health, 'HEALTHCHECK').to.not.equal(undefined);
    const check = execForm(health!.args.slice(health!.args.indexOf('CMD') + 3).trim());
    expect(check.slice(0, 2)).to.deep.equal(['teampass-ws', 'health']);
    expectKnownInvocation(check.slice(1), 'Dockerfile HEALTHCHECK');

    expect(expectKnownEnv(dockerfileText, 'Dockerfile')).to.include.members(['TEAMPASS_WS_HOST', 'TEAMPASS_WS_PORT']);
  });

  it('docker-compose.yml: MariaDB beside the daemon, commands, health check and TEAMPASS_WS_* keys that exist', () => {
    const compose = load(composeText) as { services: Record<string, { image?: string; build?: { dockerfile?: string }; command?: string[]; environment?: Record<string, unknown>; healthcheck?: { test: string[] } }> };
    const services = Object.values(compose.services);
    expect(services.some((s) => /^mariadb(:|$)/.test(s.image ?? '')), 'a MariaDB service').to.equal(true);

    const ours = Object.entries(compose.services).filter(([, s]) => s.image === 'teampass-ws');
    expect(ours.map(([name]) => name)).to.include.members(['teampass-ws', 'teampass-ws-migrate']);
    for (const [name, s] of ours) {
      expect(s.command, `${name}: command`).to.be.an('array');
      expectKnownInvocation(s.command!, `compose ${name}`);
      for (const key of Object.keys(s.environment ?? {})) expect(KNOWN_ENV.has(key), `compose ${name}: ${key}`).to.equal(true);
    }
    const built = services.find((s) => s.build);
    expect(built?.build?.dockerfile).to.equal('templates/Dockerfile');

    const daemon = compose.services['teampass-ws'];
    expect(daemon.command).to.deep.equal(['serve']);
    expect(daemon.healthcheck!.test.slice(0, 3)).to.deep.equal(['CMD', 'teampass-ws', 'health']);
    expectKnownInvocation(daemon.healthcheck!.test.slice(2), 'compose health check');
    expect(daemon.environment!.TEAMPASS_WS_DB).to.match(/^mysql:\/\/[^@]+@mariadb:3306\//);

    expectKnownEnv(composeText, 'docker-compose.yml');
  });
});
