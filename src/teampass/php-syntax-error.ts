/**
 * What php-parser could not parse, said in one line with the line it starts on. The parser's
 * own messages quote the start of the token they stopped at, which can be part of a password,
 * so only token names are kept; and an unclosed string is named by the line it opens on, not
 * by the end of the file where the parser notices it.
 */
import { phpTokens } from './php-engine.js';

export interface PhpSyntaxProblem {
  problem: string;
  line?: number;
}

const CLOSED_STRING: Readonly<Record<string, RegExp>> = {
  "'": /^[bB]?'(?:[^'\\]|\\[\s\S])*'$/,
  '"': /^[bB]?"(?:[^"\\]|\\[\s\S])*"$/,
};

function quoteName(quote: string): string {
  return quote === "'" ? 'single-quoted' : 'double-quoted';
}

/** A string or heredoc the lexer ran to the end of the file without closing. */
function unclosedLiteral(source: string): PhpSyntaxProblem | undefined {
  let tokens;
  try {
    tokens = phpTokens(source);
  } catch {
    return undefined;
  }
  let line = 1;
  let openQuoteLine: number | undefined;
  let heredoc: PhpSyntaxProblem | undefined;
  for (const token of tokens) {
    const [name, text, start] = typeof token === 'string' ? [token, token, line] : [token[0]!, token[1]!, Number(token[2])];
    // A double-quoted string with variables comes as a bare " token, its parts, and a bare ".
    if (name === '"') openQuoteLine = openQuoteLine === undefined ? start : undefined;
    else if (name === 'T_START_HEREDOC') heredoc = { problem: `the heredoc ${/\w+/.exec(text.slice(3))?.[0] ?? ''} is never closed`, line: start };
    else if (name === 'T_END_HEREDOC') heredoc = undefined;
    else if (name === 'T_CONSTANT_ENCAPSED_STRING') {
      const quote = text.replace(/^[bB]/, '')[0] ?? '"';
      if (!CLOSED_STRING[quote]?.test(text)) return { problem: `a ${quoteName(quote)} string is never closed`, line: start };
    }
    line = start + (text.match(/\n/g)?.length ?? 0);
  }
  if (openQuoteLine !== undefined) return { problem: 'a double-quoted string is never closed', line: openQuoteLine };
  return heredoc;
}

function lineOfBadCodePoint(source: string): number | undefined {
  for (const m of source.matchAll(/\\u\{([0-9A-Fa-f]+)\}/g)) {
    if (parseInt(m[1]!, 16) > 0x10ffff) return source.slice(0, m.index).split('\n').length;
  }
  return undefined;
}

/** Describes an error thrown by php-parser's parseCode; rethrows anything else. */
export function describeSyntaxError(source: string, err: unknown): PhpSyntaxProblem {
  // The parser decodes \u{...} with String.fromCodePoint, which throws past U+10FFFF.
  if (err instanceof RangeError) return { problem: 'a string holds an invalid \\u{} escape', line: lineOfBadCodePoint(source) };
  if (!(err instanceof SyntaxError) || !('lineNumber' in err) || typeof err.lineNumber !== 'number') throw err;
  const unclosed = unclosedLiteral(source);
  if (unclosed) return unclosed;
  const problem = err.message
    .replace(/^Parse Error\s*:\s*/i, '')
    .replace(/ on line \d+$/, '')
    .replace(/unexpected '[\s\S]{0,10}' \((T_[A-Z_]+)\)/, 'unexpected $1')
    .replace(/\s+/g, ' ');
  return { problem, line: err.lineNumber };
}
