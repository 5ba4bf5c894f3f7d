/**
 * A TeamPass installation's settings.php, read as text, and the database settings it holds.
 *
 * settings.php is executable PHP, and running it would mean running whatever someone put there
 * with the daemon's rights, so this is a small PHP lexer (strings with PHP's own escape rules,
 * comments, heredocs, open/close tags) plus an evaluator for the literal expressions TeamPass's
 * installer writes. Anything it cannot evaluate is reported as an expression with its source
 * text, never guessed.
 *
 * The database password (clear or decrypted) and the raw DB_PASSWD (3.1's API JWT secret) never
 * appear in an error message, and the objects returned here redact them when inspected or
 * serialised, so a stray console.log or JSON dump cannot leak them.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { TeampassWsError } from '../errors.js';
import { decryptDefuse, isDefuseEncrypted, loadDefuseKey } from './defuse.js';

export type PhpScalar = string | number | boolean | null;

/** A bare constant the file does not define itself, e.g. MYSQLI_OPT_CONNECT_TIMEOUT. */
export interface PhpConstantRef {
  kind: 'constant';
  name: string;
}

export interface PhpArray {
  kind: 'array';
  raw: string;
  entries: Array<{ key: string | number | PhpConstantRef | null; value: PhpValue }>;
}

export interface PhpExpression {
  kind: 'expression';
  raw: string;
}

export type PhpValue = PhpScalar | PhpConstantRef | PhpArray | PhpExpression;

export interface PhpDefine {
  name: string;
  value: PhpValue;
  /** 1-based line of the define( call. */
  line: number;
}

export interface ParsePhpOptions {
  /** Absolute path of the file, so __FILE__ and __DIR__ can be resolved. */
  file?: string;
}

type Token =
  | { t: 'str'; v: string; interpolated: boolean; start: number; end: number; line: number }
  | { t: 'num'; v: number; start: number; end: number; line: number }
  | { t: 'ident'; v: string; start: number; end: number; line: number }
  | { t: 'var'; v: string; start: number; end: number; line: number }
  | { t: 'punct'; v: string; start: number; end: number; line: number };

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_CHAR = /[A-Za-z0-9_\u0080-\uffff]/;
const PUNCT3 = ['===', '!==', '<=>', '**=', '...', '<<=', '>>=', '??=', '?->'];
const PUNCT2 = ['=>', '->', '::', '==', '!=', '<>', '<=', '>=', '&&', '||', '??', '++', '--', '+=', '-=', '*=', '/=', '.=', '%=', '&=', '|=', '^=', '<<', '>>', '**'];

function invalid(line: number, problem: string): TeampassWsError {
  return new TeampassWsError('SETTINGS_INVALID', `settings.php cannot be read as PHP: ${problem} (line ${line}).`, {
    suggestion: 'Compare the file with the one TeamPass\'s installer writes (define("NAME", "value"); lines) and restore it from a backup if it was damaged.',
  });
}

function utf8(text: string): number[] {
  return [...Buffer.from(text, 'utf8')];
}

/**
 * PHP strings are bytes: "\xc3\xa9" is é. Decoding to bytes first and to UTF-8 last keeps
 * byte escapes and literal multibyte characters consistent with what PHP would hand mysqli.
 */
function decodeEscapes(body: string, quote: '"' | 'heredoc'): { value: string; interpolated: boolean } {
  const out: number[] = [];
  let interpolated = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '$') {
      const next = body[i + 1] ?? '';
      if (IDENT_START.test(next) || next === '{') interpolated = true;
      out.push(0x24);
      continue;
    }
    if (c === '{' && body[i + 1] === '$') {
      interpolated = true;
      out.push(0x7b);
      continue;
    }
    if (c !== '\\' || i + 1 >= body.length) {
      const cp = body.codePointAt(i)!;
      if (cp > 0xffff) i++;
      out.push(...utf8(String.fromCodePoint(cp)));
      continue;
    }
    const e = body[i + 1]!;
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, e: 27, f: 12, '\\': 92, $: 36 };
    if (e in simple) {
      out.push(simple[e]!);
      i++;
    } else if (e === '"' && quote === '"') {
      out.push(34);
      i++;
    } else if (/[0-7]/.test(e)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i + 1))![0];
      out.push(parseInt(m, 8) & 0xff);
      i += m.length;
    } else if (e === 'x' && /[0-9A-Fa-f]/.test(body[i + 2] ?? '')) {
      const m = /^[0-9A-Fa-f]{1,2}/.exec(body.slice(i + 2))![0];
      out.push(parseInt(m, 16));
      i += 1 + m.length;
    } else if (e === 'u' && body[i + 2] === '{') {
      const m = /^\{([0-9A-Fa-f]+)\}/.exec(body.slice(i + 2));
      const cp = m ? parseInt(m[1]!, 16) : NaN;
      if (!m || cp > 0x10ffff) throw new RangeError('invalid \\u{} escape');
      out.push(...utf8(String.fromCodePoint(cp)));
      i += 1 + m[0].length;
    } else {
      out.push(92);
    }
  }
  return { value: Buffer.from(out).toString('utf8'), interpolated };
}

function decodeSingleQuoted(body: string): string {
  return body.replace(/\\([\\'])/g, '$1');
}

function lineAt(text: string, pos: number, cache: { pos: number; line: number }): number {
  let { pos: p, line } = cache;
  if (pos < p) {
    p = 0;
    line = 1;
  }
  for (; p < pos; p++) if (text.charCodeAt(p) === 10) line++;
  cache.pos = p;
  cache.line = line;
  return line;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const cache = { pos: 0, line: 1 };
  const line = (pos: number): number => lineAt(text, pos, cache);
  let i = 0;
  const n = text.length;
  let inPhp = false;

  while (i < n) {
    if (!inPhp) {
      const open = text.indexOf('<?', i);
      if (open < 0) break;
      if (text.startsWith('<?php', open) && !IDENT_CHAR.test(text[open + 5] ?? ' ')) i = open + 5;
      else if (text.startsWith('<?=', open)) i = open + 3;
      else i = open + 2;
      inPhp = true;
      continue;
    }
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '?' && text[i + 1] === '>') {
      // PHP reads a closing tag as the end of a statement.
      inPhp = false;
      tokens.push({ t: 'punct', v: ';', start: i, end: i + 2, line: line(i) });
      i += 2;
      continue;
    }
    if ((c === '#' && text[i + 1] !== '[') || (c === '/' && text[i + 1] === '/')) {
      while (i < n && text[i] !== '\n' && !(text[i] === '?' && text[i + 1] === '>')) i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw invalid(line(i), 'a /* comment is never closed');
      i = end + 2;
      continue;
    }
    const start = i;
    if (c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
      if (j >= n) throw invalid(line(start), 'a single-quoted string is never closed');
      tokens.push({ t: 'str', v: decodeSingleQuoted(text.slice(i + 1, j)), interpolated: false, start, end: j + 1, line: line(start) });
      i = j + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= n) throw invalid(line(start), 'a double-quoted string is never closed');
      let decoded;
      try {
        decoded = decodeEscapes(text.slice(i + 1, j), '"');
      } catch {
        throw invalid(line(start), 'a string holds an invalid \\u{} escape');
      }
      tokens.push({ t: 'str', v: decoded.value, interpolated: decoded.interpolated, start, end: j + 1, line: line(start) });
      i = j + 1;
      continue;
    }
    if (c === '<' && text.startsWith('<<<', i)) {
      const m = /^<<<[ \t]*(["']?)([A-Za-z_][A-Za-z0-9_]*)\1\r?\n/.exec(text.slice(i, i + 300));
      if (m) {
        const label = m[2]!;
        const bodyStart = i + m[0].length;
        const closeRe = new RegExp(`(^|\\n)([ \\t]*)${label}(?![A-Za-z0-9_\\u0080-\\uffff])`, 'g');
        closeRe.lastIndex = bodyStart - 1;
        const close = closeRe.exec(text);
        if (!close) throw invalid(line(start), `the heredoc ${label} is never closed`);
        const closeLineStart = close.index + close[1]!.length;
        const indent = close[2]!;
        const rawBody = closeLineStart > bodyStart ? text.slice(bodyStart, closeLineStart - 1).replace(/\r$/, '') : '';
        const body = rawBody
          .split('\n')
          .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
          .join('\n');
        let value: string;
        let interpolated = false;
        if (m[1] === "'") value = body;
        else {
          try {
            ({ value, interpolated } = decodeEscapes(body, 'heredoc'));
          } catch {
            throw invalid(line(start), 'a heredoc holds an invalid \\u{} escape');
          }
        }
        const end = closeLineStart + indent.length + label.length;
        tokens.push({ t: 'str', v: value, interpolated, start, end, line: line(start) });
        i = end;
        continue;
      }
    }
    if (c === '$' && IDENT_START.test(text[i + 1] ?? '')) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(text[j]!)) j++;
      tokens.push({ t: 'var', v: text.slice(i + 1, j), start, end: j, line: line(start) });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9]+)?)/.exec(text.slice(i))!;
      tokens.push({ t: 'num', v: parsePhpNumber(m[0]), start, end: i + m[0].length, line: line(start) });
      i += m[0].length;
      continue;
    }
    if (IDENT_START.test(c) || (c === '\\' && IDENT_START.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < n && (IDENT_CHAR.test(text[j]!) || (text[j] === '\\' && IDENT_START.test(text[j + 1] ?? '')))) j++;
      tokens.push({ t: 'ident', v: text.slice(i, j), start, end: j, line: line(start) });
      i = j;
      continue;
    }
    const p = PUNCT3.find((s) => text.startsWith(s, i)) ?? PUNCT2.find((s) => text.startsWith(s, i)) ?? c;
    tokens.push({ t: 'punct', v: p, start, end: i + p.length, line: line(start) });
    i += p.length;
  }
  return tokens;
}

function parsePhpNumber(src: string): number {
  const s = src.replace(/_/g, '');
  if (/^0[xX]/.test(s)) return parseInt(s.slice(2), 16);
  if (/^0[bB]/.test(s)) return parseInt(s.slice(2), 2);
  if (/^0[oO]/.test(s)) return parseInt(s.slice(2), 8);
  if (/^0[0-7]+$/.test(s)) return parseInt(s, 8);
  return Number(s);
}

class Unevaluable extends Error {}

/** Evaluates the literal subset of PHP expressions over tokens[from, to). */
class ExprParser {
  private i: number;

  constructor(
    private readonly tokens: Token[],
    from: number,
    private readonly to: number,
    private readonly text: string,
    private readonly known: Map<string, PhpValue>,
    private readonly options: ParsePhpOptions,
  ) {
    this.i = from;
  }

  done(): boolean {
    return this.i >= this.to;
  }

  private peek(): Token | undefined {
    return this.i < this.to ? this.tokens[this.i] : undefined;
  }

  private isPunct(v: string): boolean {
    const tok = this.peek();
    return tok?.t === 'punct' && tok.v === v;
  }

  private expect(v: string): void {
    if (!this.isPunct(v)) throw new Unevaluable();
    this.i++;
  }

  expression(): PhpValue {
    let value = this.unary();
    while (this.isPunct('.')) {
      this.i++;
      value = concat(value, this.unary());
    }
    return value;
  }

  private unary(): PhpValue {
    if (this.isPunct('-') || this.isPunct('+')) {
      const negative = this.peek()!.v === '-';
      this.i++;
      const operand = this.unary();
      if (typeof operand !== 'number') throw new Unevaluable();
      return negative ? -operand : operand;
    }
    return this.primary();
  }

  private primary(): PhpValue {
    const tok = this.peek();
    if (!tok) throw new Unevaluable();
    if (tok.t === 'str') {
      if (tok.interpolated) throw new Unevaluable();
      this.i++;
      return tok.v;
    }
    if (tok.t === 'num') {
      this.i++;
      return tok.v;
    }
    if (tok.t === 'punct' && tok.v === '(') {
      this.i++;
      const inner = this.expression();
      this.expect(')');
      return inner;
    }
    if (tok.t === 'punct' && tok.v === '[') {
      this.i++;
      return this.arrayBody(']', tok.start);
    }
    if (tok.t === 'ident') {
      const name = tok.v.replace(/^\\/, '');
      const lower = name.toLowerCase();
      if (lower === 'array' && this.tokens[this.i + 1]?.t === 'punct' && this.tokens[this.i + 1]!.v === '(') {
        this.i += 2;
        return this.arrayBody(')', tok.start);
      }
      const next = this.tokens[this.i + 1];
      if (next && this.i + 1 < this.to && next.t === 'punct' && (next.v === '(' || next.v === '::')) throw new Unevaluable();
      this.i++;
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
      if (name === '__FILE__' && this.options.file) return this.options.file;
      if (name === '__DIR__' && this.options.file) return this.options.file.replace(/[\\/][^\\/]*$/, '') || '/';
      if (name === 'DIRECTORY_SEPARATOR') return '/';
      if (name.startsWith('__')) throw new Unevaluable();
      const known = this.known.get(name);
      if (known !== undefined) {
        if (known !== null && typeof known === 'object' && known.kind === 'expression') throw new Unevaluable();
        return known;
      }
      return { kind: 'constant', name };
    }
    throw new Unevaluable();
  }

  private arrayBody(close: ')' | ']', start: number): PhpArray {
    const entries: PhpArray['entries'] = [];
    while (!this.isPunct(close)) {
      const first = this.expression();
      if (this.isPunct('=>')) {
        this.i++;
        const value = this.expression();
        if (first !== null && typeof first === 'object' && first.kind !== 'constant') throw new Unevaluable();
        entries.push({ key: typeof first === 'boolean' ? Number(first) : (first as string | number | PhpConstantRef | null), value });
      } else {
        entries.push({ key: null, value: first });
      }
      if (this.isPunct(',')) this.i++;
      else if (!this.isPunct(close)) throw new Unevaluable();
    }
    const end = this.peek()!.end;
    this.i++;
    return { kind: 'array', raw: this.text.slice(start, end), entries };
  }
}

function phpToString(v: PhpValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v === true) return '1';
  if (v === false || v === null) return '';
  throw new Unevaluable();
}

function concat(a: PhpValue, b: PhpValue): string {
  return phpToString(a) + phpToString(b);
}

function matchingParen(tokens: Token[], open: number): number {
  let depth = 0;
  for (let j = open; j < tokens.length; j++) {
    const tok = tokens[j]!;
    if (tok.t !== 'punct') continue;
    if (tok.v === '(' || tok.v === '[' || tok.v === '{') depth++;
    else if (tok.v === ')' || tok.v === ']' || tok.v === '}') {
      depth--;
      if (depth === 0) return j;
    } else if (tok.v === ';' && depth <= 1) return -1;
  }
  return -1;
}

/** Finds the end (exclusive) of one call argument starting at `from`: the next top-level comma. */
function argumentEnd(tokens: Token[], from: number, to: number): number {
  let depth = 0;
  for (let j = from; j < to; j++) {
    const tok = tokens[j]!;
    if (tok.t !== 'punct') continue;
    if (tok.v === '(' || tok.v === '[' || tok.v === '{') depth++;
    else if (tok.v === ')' || tok.v === ']' || tok.v === '}') depth--;
    else if (tok.v === ',' && depth === 0) return j;
  }
  return to;
}

/**
 * Every define() call in the file, in order. PHP keeps the first definition of a constant and
 * ignores (with a warning) later ones, so when a name repeats, the first one is what TeamPass
 * runs with; parseSettingsPhp applies that rule.
 */
export function parsePhpDefines(text: string, options: ParsePhpOptions = {}): PhpDefine[] {
  const tokens = tokenize(text.replace(/^\uFEFF/, ''));
  const source = text.replace(/^\uFEFF/, '');
  const known = new Map<string, PhpValue>();
  const defines: PhpDefine[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k]!;
    if (tok.t !== 'ident' || tok.v.replace(/^\\/, '').toLowerCase() !== 'define') continue;
    const open = tokens[k + 1];
    if (open?.t !== 'punct' || open.v !== '(') continue;
    const prev = tokens[k - 1];
    if (prev && ((prev.t === 'punct' && ['->', '?->', '::'].includes(prev.v)) || (prev.t === 'ident' && /^(function|new|const)$/i.test(prev.v)))) continue;
    const close = matchingParen(tokens, k + 1);
    if (close < 0) throw invalid(tok.line, 'a define( call is never closed');
    const nameEnd = argumentEnd(tokens, k + 2, close);
    if (nameEnd >= close) continue;
    let name: PhpValue;
    try {
      const p = new ExprParser(tokens, k + 2, nameEnd, source, known, options);
      name = p.expression();
      if (!p.done()) throw new Unevaluable();
    } catch (err) {
      if (err instanceof Unevaluable) continue;
      throw err;
    }
    if (typeof name !== 'string' || name === '') continue;
    const valueEnd = argumentEnd(tokens, nameEnd + 1, close);
    let value: PhpValue;
    try {
      const p = new ExprParser(tokens, nameEnd + 1, valueEnd, source, known, options);
      value = p.expression();
      if (!p.done()) throw new Unevaluable();
    } catch (err) {
      if (!(err instanceof Unevaluable)) throw err;
      const from = tokens[nameEnd + 1];
      const to = tokens[valueEnd - 1];
      value = { kind: 'expression', raw: from && to && valueEnd > nameEnd + 1 ? source.slice(from.start, to.end) : '' };
    }
    defines.push({ name, value, line: tok.line });
    if (!known.has(name)) known.set(name, value);
    k = close;
  }
  return defines;
}

/**
 * The scalar constants of a settings.php: the first define() of each name wins, as in PHP.
 * Arrays (DB_SSL as an array, DB_CONNECT_OPTIONS), null and expressions that cannot be evaluated
 * without running PHP are left out; parsePhpDefines has them with their source text.
 */
export function parseSettingsPhp(text: string, options: ParsePhpOptions = {}): Record<string, string | boolean | number> {
  const out: Record<string, string | boolean | number> = {};
  const seen = new Set<string>();
  for (const def of parsePhpDefines(text, options)) {
    if (seen.has(def.name)) continue;
    seen.add(def.name);
    const v = def.value;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      Object.defineProperty(out, def.name, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }
  return out;
}

export type TeampassVersion = '3.1' | '3.2';

export interface TeampassInstall {
  version: TeampassVersion;
  /** Absolute path of the TeamPass root folder. */
  root: string;
  settingsPath: string;
  /**
   * The defuse key file: the first candidate that exists, else the first candidate (so errors
   * can name it), or null when settings.php names no key file at all.
   */
  keyFilePath: string | null;
  /** Every place the key file was looked for, in order. */
  keyFileCandidates: string[];
  settings: Record<string, string | boolean | number>;
  defines: PhpDefine[];
}

/** DB_SSL as TeamPass writes it: false, or its array with TeamPass's key names (key, cert, ca_cert, ca_path, cipher). */
export type TeampassSsl = boolean | Record<string, string>;

export interface TeampassDbSettings {
  host: string;
  port: number;
  user: string;
  /** Clear text: DB_PASSWD decrypted, or DB_PASSWD itself when it was not encrypted. */
  password: string;
  database: string;
  prefix: string;
  ssl: TeampassSsl;
  encoding: string;
  /** MYSQLI_OPT_CONNECT_TIMEOUT from DB_CONNECT_OPTIONS, in seconds, when present. */
  connectTimeoutSec?: number;
}

export interface TeampassSettings {
  version: TeampassVersion;
  root: string;
  settingsPath: string;
  /** The key file that decrypted DB_PASSWD; null when DB_PASSWD was in clear text. */
  keyFilePath: string | null;
  passwordEncrypted: boolean;
  db: TeampassDbSettings;
  /** DB_PASSWD exactly as in the file (unescaped): TeamPass 3.1 signs its API JWTs with it. */
  rawDbPasswd: string;
}

export const DEFAULT_DB_PREFIX = 'teampass_';
export const DEFAULT_DB_PORT = 3306;
export const DEFAULT_DB_ENCODING = 'utf8mb4';
/** The key file name TeamPass used before SECUREFILE existed. */
export const LEGACY_KEY_FILE_NAME = 'teampass-seckey.txt';
const MAX_SETTINGS_BYTES = 1024 * 1024;
const MAX_KEY_FILE_BYTES = 4096;
const REDACTED = '[redacted]';

const LAYOUTS: ReadonlyArray<{ version: TeampassVersion; relative: string }> = [
  { version: '3.2', relative: path.join('app', 'config', 'settings.php') },
  { version: '3.1', relative: path.join('includes', 'config', 'settings.php') },
];

const ROOT_SUGGESTION =
  "--teampass-root must point at TeamPass's root folder (the one holding index.php, e.g. /var/www/html/teampass), " +
  'not at its config folder or at settings.php itself.';

function whoAmI(): string {
  let name = 'unknown';
  try {
    name = os.userInfo().username;
  } catch {
    name = process.env.USER ?? name;
  }
  const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
  return `user "${name}"${uid}`;
}

async function statOrNull(p: string): Promise<{ isFile: boolean; isDir: boolean; size: number } | { error: NodeJS.ErrnoException } | null> {
  try {
    const st = await stat(p);
    return { isFile: st.isFile(), isDir: st.isDirectory(), size: st.size };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
    return { error: e };
  }
}

function withSuggestion(err: TeampassWsError): { suggestion?: string } {
  return err.suggestion === undefined ? {} : { suggestion: err.suggestion };
}

function firstDefine(defines: PhpDefine[], name: string): PhpDefine | undefined {
  return defines.find((d) => d.name === name);
}

function nonEmptyString(v: string | boolean | number | undefined): string | undefined {
  if (typeof v === 'number') return String(v);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Where TeamPass keeps the defuse key, per layout:
 * - 3.2: `<root>/secrets/<SECUREFILE>`; a SECUREPATH line, if an upgraded file kept one, is tried next.
 * - 3.1: `SECUREPATH/SECUREFILE`.
 * - SECUREPATH without SECUREFILE (TeamPass before SECUREFILE existed): `SECUREPATH/teampass-seckey.txt`.
 * - SECUREFILE without SECUREPATH: SECUREFILE is then the key file's path, and when nothing is
 *   there the legacy file name is tried in that folder.
 * Relative paths are taken from the TeamPass root, as TeamPass's own scripts run from there.
 */
export function keyFileCandidates(version: TeampassVersion, root: string, settings: Record<string, string | boolean | number>): string[] {
  const securePath = nonEmptyString(settings.SECUREPATH);
  const secureFile = nonEmptyString(settings.SECUREFILE);
  const inRoot = (p: string): string => path.resolve(root, p);
  const candidates: string[] = [];
  if (secureFile && version === '3.2') candidates.push(path.join(root, 'secrets', secureFile));
  if (securePath && secureFile) candidates.push(path.join(inRoot(securePath), secureFile));
  if (securePath && !secureFile) candidates.push(path.join(inRoot(securePath), LEGACY_KEY_FILE_NAME));
  if (!securePath && secureFile && version === '3.1') {
    candidates.push(inRoot(secureFile), path.join(path.dirname(inRoot(secureFile)), LEGACY_KEY_FILE_NAME));
  }
  return [...new Set(candidates)];
}

/** Finds settings.php under a TeamPass root, parses it and locates the key file. */
export async function findTeampassInstall(root: string): Promise<TeampassInstall> {
  const absRoot = path.resolve(root);
  const rootStat = await statOrNull(absRoot);
  if (rootStat === null) {
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `The TeamPass root ${absRoot} does not exist.`, { suggestion: ROOT_SUGGESTION });
  }
  if ('error' in rootStat) {
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `The TeamPass root ${absRoot} cannot be read by ${whoAmI()} (${rootStat.error.code}).`, {
      suggestion: `Give the user running teampass-ws read and execute access to ${absRoot}. ${ROOT_SUGGESTION}`,
    });
  }
  if (!rootStat.isDir) {
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `The TeamPass root ${absRoot} is a file, not a folder.`, { suggestion: ROOT_SUGGESTION });
  }

  const tried: string[] = [];
  let found: { version: TeampassVersion; settingsPath: string; size: number } | undefined;
  for (const layout of LAYOUTS) {
    const candidate = path.join(absRoot, layout.relative);
    tried.push(`${candidate} (${layout.version}.x)`);
    const st = await statOrNull(candidate);
    if (st === null) continue;
    if ('error' in st) {
      throw new TeampassWsError('SETTINGS_NOT_FOUND', `${candidate} exists but cannot be read by ${whoAmI()} (${st.error.code}).`, {
        suggestion: 'The user running teampass-ws needs read access to settings.php and to the folders above it (usually by joining the web server\'s group).',
      });
    }
    if (st.isFile) {
      found = { version: layout.version, settingsPath: candidate, size: st.size };
      break;
    }
  }
  if (!found) {
    let suggestion = ROOT_SUGGESTION;
    const direct = await statOrNull(path.join(absRoot, 'settings.php'));
    if (direct !== null && !('error' in direct) && direct.isFile) {
      suggestion = `${absRoot} looks like TeamPass's config folder; use --teampass-root ${path.resolve(absRoot, '..', '..')}. ${ROOT_SUGGESTION}`;
    }
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `No TeamPass settings.php under ${absRoot}: tried ${tried.join(' and ')}.`, { suggestion });
  }

  const { version, settingsPath } = found;
  if (found.size > MAX_SETTINGS_BYTES) {
    throw new TeampassWsError('SETTINGS_INVALID', `${settingsPath} is ${found.size} bytes, far larger than a TeamPass settings.php.`, {
      suggestion: 'Check that this is TeamPass\'s own settings.php and restore it from a backup if it was overwritten.',
    });
  }
  let text: string;
  try {
    text = await readFile(settingsPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `${settingsPath} exists but cannot be read by ${whoAmI()} (${code}).`, {
      suggestion: 'The user running teampass-ws needs read access to settings.php (usually by joining the web server\'s group, e.g. www-data or apache).',
      cause: err,
    });
  }
  let defines: PhpDefine[];
  try {
    defines = parsePhpDefines(text, { file: settingsPath });
  } catch (err) {
    if (err instanceof TeampassWsError) {
      throw new TeampassWsError(err.code, err.message.replace(/^settings\.php/, settingsPath), withSuggestion(err));
    }
    throw err;
  }
  if (defines.length === 0) {
    throw new TeampassWsError('SETTINGS_INVALID', `${settingsPath} holds no define("NAME", "value") lines.`, {
      suggestion: 'TeamPass\'s installer writes DB_HOST, DB_USER, DB_PASSWD, DB_NAME… as define() lines; restore settings.php from a backup or re-run the installer.',
    });
  }
  const settings = parseSettingsPhp(text, { file: settingsPath });
  const candidates = keyFileCandidates(version, absRoot, settings);
  let keyFilePath: string | null = candidates[0] ?? null;
  for (const candidate of candidates) {
    const st = await statOrNull(candidate);
    if (st !== null && ('error' in st || st.isFile)) {
      keyFilePath = candidate;
      break;
    }
  }
  return redactable(
    { version, root: absRoot, settingsPath, keyFilePath, keyFileCandidates: candidates, settings, defines },
    (i) => ({
      ...i,
      settings: 'DB_PASSWD' in i.settings ? { ...i.settings, DB_PASSWD: REDACTED } : i.settings,
      defines: i.defines.map((d) => (d.name === 'DB_PASSWD' ? { ...d, value: REDACTED } : d)),
    }),
  );
}

function settingsInvalid(settingsPath: string, problem: string, suggestion?: string): TeampassWsError {
  return new TeampassWsError('SETTINGS_INVALID', `${settingsPath}: ${problem}`, {
    suggestion: suggestion ?? 'Compare it with the settings.php TeamPass\'s installer writes, or restore it from a backup.',
  });
}

async function readKeyFile(install: TeampassInstall): Promise<{ key: Buffer; keyFilePath: string }> {
  const { keyFilePath, keyFileCandidates: candidates, settingsPath } = install;
  const access = `The user running teampass-ws, ${whoAmI()}, needs read access to the key file and execute access to its folders, e.g. by joining the web server's group.`;
  if (keyFilePath === null) {
    throw new TeampassWsError('KEY_FILE', `DB_PASSWD in ${settingsPath} is encrypted but settings.php names no key file (no SECUREFILE or SECUREPATH define).`, {
      suggestion: 'Restore the SECUREPATH/SECUREFILE lines from a backup of settings.php; the key file lives outside the web root and its name is random.',
    });
  }
  let text: string;
  try {
    const st = await stat(keyFilePath);
    if (!st.isFile()) {
      throw new TeampassWsError('KEY_FILE', `The key file ${keyFilePath} is not a regular file.`, {
        suggestion: `SECUREPATH/SECUREFILE in ${settingsPath} must name TeamPass's key file.`,
      });
    }
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new TeampassWsError('KEY_FILE', `The key file ${keyFilePath} is ${st.size} bytes; a defuse key file is 136 characters.`, {
        suggestion: `SECUREPATH/SECUREFILE in ${settingsPath} must name TeamPass's key file.`,
      });
    }
    text = await readFile(keyFilePath, 'latin1');
  } catch (err) {
    if (err instanceof TeampassWsError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const tried = candidates.length > 1 ? ` (looked for ${candidates.join(', ')})` : '';
      throw new TeampassWsError('KEY_FILE', `The key file ${keyFilePath} named by ${settingsPath} does not exist${tried}.`, {
        suggestion: `Restore the key file from a backup of the TeamPass server: without it the encrypted DB_PASSWD cannot be decrypted. ${access}`,
        cause: err,
      });
    }
    throw new TeampassWsError('KEY_FILE', `The key file ${keyFilePath} cannot be read by ${whoAmI()} (${code ?? 'error'}).`, { suggestion: access, cause: err });
  }
  return { key: loadDefuseKey(text, `The key file ${keyFilePath}`), keyFilePath };
}

function redactable<T extends object>(target: T, redact: (value: T) => object): T {
  Object.defineProperty(target, 'toJSON', { value: function (this: T) { return redact(this); }, enumerable: false });
  Object.defineProperty(target, inspect.custom, {
    value: function (this: T, _depth: number, options: object) {
      return inspect(redact(this), options);
    },
    enumerable: false,
  });
  return target;
}

function sslFrom(value: PhpValue | undefined): TeampassSsl {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return value !== '' && value !== '0';
  if (value.kind !== 'array') return false;
  const out: Record<string, string> = {};
  for (const { key, value: v } of value.entries) {
    if (typeof key === 'string' && typeof v === 'string' && v !== '') out[key] = v;
  }
  return Object.keys(out).length > 0 ? out : false;
}

function connectTimeoutFrom(value: PhpValue | undefined): number | undefined {
  if (value === null || typeof value !== 'object' || value.kind !== 'array') return undefined;
  for (const { key, value: v } of value.entries) {
    const isTimeout = (key !== null && typeof key === 'object' && key.name === 'MYSQLI_OPT_CONNECT_TIMEOUT') || key === 0;
    if (isTimeout && typeof v === 'number' && v > 0) return v;
  }
  return undefined;
}

/**
 * Everything teampass-ws needs from a TeamPass installation to reach its database, with
 * DB_PASSWD decrypted when it is encrypted (TeamPass's rule: it starts with "def").
 */
export async function readTeampassSettings(root: string): Promise<TeampassSettings> {
  const install = await findTeampassInstall(root);
  const { settingsPath, defines } = install;

  const missing: string[] = [];
  const notLiteral: string[] = [];
  const text = (name: string, required: boolean): string | undefined => {
    const def = firstDefine(defines, name);
    if (def === undefined) {
      if (required) missing.push(name);
      return undefined;
    }
    const v = def.value;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    if (required || (v !== null && typeof v === 'object')) notLiteral.push(`${name} (line ${def.line})`);
    return undefined;
  };

  const host = text('DB_HOST', true);
  const user = text('DB_USER', true);
  const rawDbPasswd = text('DB_PASSWD', true);
  const database = text('DB_NAME', true);
  const portText = text('DB_PORT', false);
  const prefixText = text('DB_PREFIX', false);
  const encodingText = text('DB_ENCODING', false);

  if (missing.length > 0) {
    throw settingsInvalid(settingsPath, `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not defined.`,
      'TeamPass\'s installer writes DB_HOST, DB_USER, DB_PASSWD and DB_NAME; restore settings.php from a backup or re-run the installer.');
  }
  if (notLiteral.length > 0) {
    throw settingsInvalid(
      settingsPath,
      `${notLiteral.join(', ')} ${notLiteral.length > 1 ? 'are' : 'is'} not a literal string: a PHP expression, or a double-quoted string with an unescaped $ that PHP reads as a variable.`,
      'teampass-ws reads settings.php as text and never runs it: write the value as a quoted string, with $ escaped as \\$ inside double quotes.',
    );
  }
  const empty = (['DB_HOST', 'DB_USER', 'DB_NAME'] as const).filter((_, i) => [host, user, database][i] === '');
  if (empty.length > 0) {
    throw settingsInvalid(settingsPath, `${empty.join(', ')} ${empty.length > 1 ? 'are' : 'is'} empty.`,
      'This is the blank template, not a configured settings.php: point --teampass-root at an installed TeamPass, or finish TeamPass\'s installation first.');
  }

  let port = DEFAULT_DB_PORT;
  if (portText !== undefined && portText.trim() !== '') {
    const trimmed = portText.trim();
    port = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw settingsInvalid(settingsPath, `DB_PORT "${portText}" is not a TCP port (1-65535).`);
    }
  }
  const prefix = prefixText ?? DEFAULT_DB_PREFIX;
  if (!/^[A-Za-z0-9_$]*$/.test(prefix)) {
    throw settingsInvalid(settingsPath, `DB_PREFIX "${prefix}" holds characters other than letters, digits, _ and $.`,
      'teampass-ws builds table names from DB_PREFIX, so it only accepts what a MySQL identifier allows unquoted; TeamPass\'s installer default is "teampass_".');
  }
  const encoding = encodingText !== undefined && encodingText !== '' ? encodingText : DEFAULT_DB_ENCODING;

  const passwordEncrypted = isDefuseEncrypted(rawDbPasswd!);
  let password = rawDbPasswd!;
  let keyFilePath: string | null = null;
  if (passwordEncrypted) {
    const loaded = await readKeyFile(install);
    keyFilePath = loaded.keyFilePath;
    try {
      password = decryptDefuse(rawDbPasswd!, loaded.key);
    } catch (err) {
      if (err instanceof TeampassWsError) {
        throw new TeampassWsError(err.code, `${err.message} DB_PASSWD comes from ${settingsPath}; the key file is ${keyFilePath}.`, withSuggestion(err));
      }
      throw err;
    } finally {
      loaded.key.fill(0);
    }
  }

  const connectTimeoutSec = connectTimeoutFrom(firstDefine(defines, 'DB_CONNECT_OPTIONS')?.value);
  const db: TeampassDbSettings = redactable(
    {
      host: host!,
      port,
      user: user!,
      password,
      database: database!,
      prefix,
      ssl: sslFrom(firstDefine(defines, 'DB_SSL')?.value),
      encoding,
      ...(connectTimeoutSec !== undefined ? { connectTimeoutSec } : {}),
    },
    (d) => ({ ...d, password: REDACTED }),
  );
  return redactable(
    { version: install.version, root: install.root, settingsPath, keyFilePath, passwordEncrypted, db, rawDbPasswd: rawDbPasswd! },
    (s) => ({ ...s, db: { ...s.db, password: REDACTED }, rawDbPasswd: REDACTED }),
  );
}
