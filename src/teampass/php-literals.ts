/**
 * The values of PHP literals, from their source text. The parser's own decoded values are
 * JavaScript strings built code point by code point, while PHP strings are bytes: "\xc3\xa9" is é
 * for PHP and "Ã©" for the parser. So strings are decoded here from the raw text, as PHP does.
 */

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { n: 10, t: 9, r: 13, v: 11, e: 27, f: 12, '\\': 92, $: 36 };

/** A \u{...} escape PHP refuses to compile. */
export class InvalidEscapeError extends Error {}

function utf8(text: string): number[] {
  return [...Buffer.from(text, 'utf8')];
}

/**
 * The body of a double-quoted string or a heredoc, with PHP's escapes applied. `interpolated`
 * says the body holds a variable, which only running PHP can resolve.
 */
export function decodeDoubleQuoted(body: string, quote: '"' | 'heredoc'): { value: string; interpolated: boolean } {
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
    if (e in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[e]!);
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
      if (!m || cp > 0x10ffff) throw new InvalidEscapeError('invalid \\u{} escape');
      out.push(...utf8(String.fromCodePoint(cp)));
      i += 1 + m[0].length;
    } else {
      out.push(92);
    }
  }
  return { value: Buffer.from(out).toString('utf8'), interpolated };
}

/** A single-quoted string's raw text, quotes included (and PHP's optional b prefix). */
export function decodeSingleQuoted(raw: string): string {
  return raw.replace(/^[bB]?'|'$/g, '').replace(/\\([\\'])/g, '$1');
}

/** A double-quoted string's raw text, quotes included, without the quotes. */
export function doubleQuotedBody(raw: string): string {
  return raw.replace(/^[bB]?"|"$/g, '');
}

/**
 * A heredoc's body from its raw text (`<<<LABEL`, the lines, the closing label): the newline
 * before the closing label is not part of the value, and the closing label's indentation is
 * taken off every line (PHP 7.3's flexible heredoc).
 */
export function heredocBody(raw: string, label: string): string {
  const lines = raw.replace(/\s+$/, '').split('\n');
  if (lines.length < 2) return '';
  const closing = lines[lines.length - 1]!;
  const indent = closing.slice(0, Math.max(0, closing.length - label.length));
  return lines
    .slice(1, -1)
    .join('\n')
    .replace(/\r$/, '')
    .split('\n')
    .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
    .join('\n');
}

/** An integer or float literal: decimal, 0x, 0b, 0o or leading-zero octal, with _ separators. */
export function parsePhpNumber(src: string): number {
  const s = src.replace(/_/g, '');
  if (/^0[xX]/.test(s)) return parseInt(s.slice(2), 16);
  if (/^0[bB]/.test(s)) return parseInt(s.slice(2), 2);
  if (/^0[oO]/.test(s)) return parseInt(s.slice(2), 8);
  if (/^0[0-7]+$/.test(s)) return parseInt(s, 8);
  return Number(s);
}
