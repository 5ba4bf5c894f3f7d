/**
 * php-parser, loaded on first use: it takes a few hundred milliseconds to load, and only the
 * commands that read a settings.php should pay for that.
 */
import { createRequire } from 'node:module';
import type phpParser from 'php-parser';

type PhpParserModule = typeof phpParser;

let loaded: PhpParserModule | undefined;
let parseEngine: phpParser.Engine | undefined;

function load(): PhpParserModule {
  // php-parser is CommonJS; require keeps parsing synchronous, as its callers are.
  if (loaded) return loaded;
  const required: PhpParserModule = createRequire(import.meta.url)('php-parser');
  loaded = required;
  return required;
}

/** The parser settings.php is read with: positions and source text on every node, comments kept. */
export function phpEngine(): phpParser.Engine {
  parseEngine ??= new (load().Engine)({
    parser: { extractDoc: true, suppressErrors: false },
    ast: { withPositions: true, withSource: true },
    lexer: { short_tags: true },
  });
  return parseEngine;
}

/** PHP's token_get_all() for `source`, from a fresh lexer (tokenGetAll changes an engine's lexer mode). */
export function phpTokens(source: string): Array<string | string[]> {
  return new (load().Engine)({ lexer: { short_tags: true } }).tokenGetAll(source);
}
