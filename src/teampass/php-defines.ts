/**
 * The define() constants of a PHP file such as TeamPass's settings.php, read without running it.
 *
 * settings.php is executable PHP, and running it would mean running whatever someone put there
 * with the daemon's rights. So php-parser turns the file into a syntax tree and the constant
 * forms TeamPass's installer writes are evaluated from it: strings, numbers, booleans, null,
 * arrays, `.` concatenation and constants defined earlier in the file. Anything else is kept as
 * an expression with its source text, never guessed.
 */
import { TeampassWsError } from '../errors.js';
import { phpEngine } from './php-engine.js';
import { describeSyntaxError } from './php-syntax-error.js';
import { decodeDoubleQuoted, decodeSingleQuoted, doubleQuotedBody, heredocBody, InvalidEscapeError, parsePhpNumber } from './php-literals.js';

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

interface Loc {
  source: string | null;
  start: { line: number; offset: number };
}

/**
 * The php-parser nodes read here, as the parser builds them (its bundled typings give every
 * node `kind: string`, which does not narrow, and declare number values as numbers).
 */
type AstNode =
  | { kind: 'string'; loc: Loc; raw: string; isDoubleQuote: boolean }
  | { kind: 'number'; loc: Loc; value: string }
  | { kind: 'boolean'; loc: Loc; value: boolean }
  | { kind: 'nullkeyword'; loc: Loc }
  | { kind: 'name'; loc: Loc; name: string }
  | { kind: 'magic'; loc: Loc; value: string }
  | { kind: 'unary'; loc: Loc; type: string; what: AstNode }
  | { kind: 'bin'; loc: Loc; type: string; left: AstNode; right: AstNode }
  | { kind: 'array'; loc: Loc; items: AstNode[] }
  | { kind: 'entry'; loc: Loc; key: AstNode | null; value: AstNode; byRef: boolean; unpack: boolean }
  | { kind: 'encapsed'; loc: Loc; raw: string; type: string; label?: string; value: Array<{ expression: AstNode }> }
  | { kind: 'nowdoc'; loc: Loc; value: string }
  | { kind: 'call'; loc: Loc; what: AstNode; arguments: AstNode[] }
  | { kind: 'commentblock' | 'commentline'; loc: Loc; value: string };

type CallNode = Extract<AstNode, { kind: 'call' }>;

function invalidPhp(problem: string, line: number | undefined): TeampassWsError {
  const where = line === undefined ? '' : ` (line ${line})`;
  return new TeampassWsError('SETTINGS_INVALID', `settings.php cannot be read as PHP: ${problem}${where}.`, {
    suggestion: 'Compare the file with the one TeamPass\'s installer writes (define("NAME", "value"); lines) and restore it from a backup if it was damaged.',
  });
}

class Unevaluable extends Error {}

/** Evaluates one define() argument; `known` holds the constants defined above it. */
class ConstantEvaluator {
  constructor(
    private readonly known: Map<string, PhpValue>,
    private readonly options: ParsePhpOptions,
  ) {}

  evaluate(node: AstNode): PhpValue {
    switch (node.kind) {
      case 'string':
        return node.isDoubleQuote ? this.decoded(doubleQuotedBody(node.raw), '"', node.loc) : decodeSingleQuoted(node.raw);
      case 'number':
        return parsePhpNumber(node.value);
      case 'boolean':
        return node.value;
      case 'nullkeyword':
        return null;
      case 'nowdoc':
        return node.value;
      case 'encapsed':
        // A heredoc without variables; a double-quoted string with variables is an encapsed too.
        if (node.type !== 'heredoc' || !node.value.every((part) => part.expression.kind === 'string')) throw new Unevaluable();
        return this.decoded(heredocBody(node.raw, node.label ?? ''), 'heredoc', node.loc);
      case 'unary': {
        const operand = this.evaluate(node.what);
        if ((node.type !== '-' && node.type !== '+') || typeof operand !== 'number') throw new Unevaluable();
        return node.type === '-' ? -operand : operand;
      }
      case 'bin':
        if (node.type !== '.') throw new Unevaluable();
        return phpToString(this.evaluate(node.left)) + phpToString(this.evaluate(node.right));
      case 'array':
        return { kind: 'array', raw: node.loc.source ?? '', entries: node.items.map((item) => this.entry(item)) };
      case 'magic':
        return this.magic(node.value);
      case 'name':
        return this.constant(node.name.replace(/^\\/, ''));
      default:
        throw new Unevaluable();
    }
  }

  private decoded(body: string, quote: '"' | 'heredoc', loc: Loc): string {
    try {
      const { value, interpolated } = decodeDoubleQuoted(body, quote);
      if (interpolated) throw new Unevaluable();
      return value;
    } catch (err) {
      if (err instanceof InvalidEscapeError) throw invalidPhp(`a ${quote === '"' ? 'string' : 'heredoc'} holds an invalid \\u{} escape`, loc.start.line);
      throw err;
    }
  }

  private entry(item: AstNode): PhpArray['entries'][number] {
    if (item.kind !== 'entry' || item.byRef || item.unpack) throw new Unevaluable();
    const value = this.evaluate(item.value);
    if (item.key === null) return { key: null, value };
    const key = this.evaluate(item.key);
    if (typeof key === 'boolean') return { key: Number(key), value };
    if (key !== null && typeof key === 'object' && key.kind !== 'constant') throw new Unevaluable();
    return { key, value };
  }

  private magic(name: string): string {
    const file = this.options.file;
    if (name.toUpperCase() === '__FILE__' && file) return file;
    if (name.toUpperCase() === '__DIR__' && file) return file.replace(/[\\/][^\\/]*$/, '') || '/';
    throw new Unevaluable();
  }

  private constant(name: string): PhpValue {
    const lower = name.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    if (lower === 'null') return null;
    if (name === 'DIRECTORY_SEPARATOR') return '/';
    if (name.startsWith('__')) throw new Unevaluable();
    const known = this.known.get(name);
    if (known === undefined) return { kind: 'constant', name };
    if (known !== null && typeof known === 'object' && known.kind === 'expression') throw new Unevaluable();
    return known;
  }
}

function phpToString(v: PhpValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v === true) return '1';
  if (v === false || v === null) return '';
  throw new Unevaluable();
}

function isDefineCall(node: AstNode): node is CallNode {
  return node.kind === 'call' && node.what.kind === 'name' && node.what.name.replace(/^\\/, '').toLowerCase() === 'define';
}

/** Every define() call in the tree, wherever it sits (if blocks, functions), in file order. */
function defineCalls(tree: unknown): CallNode[] {
  const calls: CallNode[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object' || !('kind' in value)) return;
    const node = value as AstNode;
    if (isDefineCall(node)) calls.push(node);
    for (const [field, child] of Object.entries(value)) if (field !== 'loc') visit(child);
  };
  visit(tree);
  return calls.sort((a, b) => a.loc.start.offset - b.loc.start.offset);
}

function parseTree(source: string): unknown {
  let tree;
  try {
    tree = phpEngine().parseCode(source, 'settings.php');
  } catch (err) {
    const { problem, line } = describeSyntaxError(source, err);
    throw invalidPhp(problem, line);
  }
  // PHP refuses an unclosed /* comment; the parser reads it to the end of the file.
  const comments = (tree.comments ?? []) as AstNode[];
  const open = comments.find((c) => c.kind === 'commentblock' && !c.value.endsWith('*/'));
  if (open) throw invalidPhp('a /* comment is never closed', open.loc.start.line);
  return tree.children;
}

/**
 * Every define() call in the file, in order. PHP keeps the first definition of a constant and
 * ignores (with a warning) later ones, so when a name repeats, the first one is what TeamPass
 * runs with; parseSettingsPhp applies that rule.
 */
export function parsePhpDefines(text: string, options: ParsePhpOptions = {}): PhpDefine[] {
  const known = new Map<string, PhpValue>();
  const evaluator = new ConstantEvaluator(known, options);
  const evaluate = (node: AstNode): PhpValue | undefined => {
    try {
      return evaluator.evaluate(node);
    } catch (err) {
      if (err instanceof Unevaluable) return undefined;
      throw err;
    }
  };
  const defines: PhpDefine[] = [];
  for (const call of defineCalls(parseTree(text.replace(/^\uFEFF/, '')))) {
    const [nameArg, valueArg] = call.arguments;
    if (!nameArg || !valueArg) continue;
    const name = evaluate(nameArg);
    if (typeof name !== 'string' || name === '') continue;
    const evaluated = evaluate(valueArg);
    const value = evaluated === undefined ? { kind: 'expression' as const, raw: valueArg.loc.source ?? '' } : evaluated;
    defines.push({ name, value, line: call.what.loc.start.line });
    if (!known.has(name)) known.set(name, value);
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
