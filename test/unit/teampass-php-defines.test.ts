import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TeampassWsError } from '../../src/errors.js';
import { parsePhpDefines, parseSettingsPhp, readTeampassSettings } from '../../src/teampass/index.js';
import { thrown, rejection } from '../helpers/errors.js';

describe('teampass/php-defines', () => {
  describe('syntax errors', () => {
    it('reports a syntax error anywhere in the file on one line, with its line and without the text around it', () => {
      const err = thrown(() => parseSettingsPhp('<?php\ndefine("DB_HOST", "h");\ndefine("DB_PASSWD" "Secret-42");\n'));
      expect(err.code).to.equal('SETTINGS_INVALID');
      expect(err.message).to.match(/^settings\.php cannot be read as PHP: syntax error.* \(line 3\)\.$/);
      expect(err.message).to.not.contain('\n');
      expect(`${err.message}${err.suggestion ?? ''}`).to.not.contain('Secret');
    });

    it('reports a statement PHP would refuse after the defines, at the line PHP names', () => {
      const err = thrown(() => parseSettingsPhp('<?php\ndefine("DB_HOST", "h");\n\nif ($x {\n}\n'));
      expect(err.message).to.match(/syntax error, unexpected '}' \(line 5\)\.$/);
    });

    it('names an unclosed single-quoted string, heredoc and comment by the line they start on', () => {
      expect(thrown(() => parseSettingsPhp("<?php\n\ndefine('DB_PASSWD', 'open);\n")).message).to.match(/single-quoted string is never closed \(line 3\)/);
      expect(thrown(() => parseSettingsPhp('<?php\ndefine("H", <<<EOT\nabc\n')).message).to.match(/heredoc EOT is never closed \(line 2\)/);
      expect(thrown(() => parseSettingsPhp('<?php\ndefine("A", 1);\n/* open\ndefine("B", 2);\n')).message).to.match(/comment is never closed \(line 3\)/);
    });

    it('refuses a \\u{} escape PHP refuses, with its line', () => {
      expect(thrown(() => parseSettingsPhp('<?php\n\ndefine("A", "x\\u{zz}");\n')).message).to.match(/invalid \\u\{\} escape \(line 3\)/);
      expect(thrown(() => parseSettingsPhp('<?php\ndefine("A", "\\u{110000}");\n')).message).to.match(/invalid \\u\{\} escape \(line 2\)/);
    });
  });

  describe('values', () => {
    it('reads defines nested in if blocks, in the order of the file', () => {
      const defines = parsePhpDefines(`<?php
if (!defined('A')) {
    define('A', 'a');
}
define('B', A . 'b');
`);
      expect(defines.map((d) => [d.name, d.value, d.line])).to.deep.equal([['A', 'a', 3], ['B', 'ab', 5]]);
    });

    it('ignores define methods, other namespaces\' define functions and define() without a value', () => {
      expect(parseSettingsPhp(`<?php
$o->define("M", 1); Foo::define("S", 1); Other\\define("N", 1); define("ONLY_NAME"); \\define("ROOT", 2);
`)).to.deep.equal({ ROOT: 2 });
    });

    it('reads binary, octal and separated numbers, parenthesised values and a unary plus', () => {
      expect(parseSettingsPhp('<?php define("B", 0b101); define("O", 017); define("O2", 0o17); define("M", 1_000); define("P", +(2)); define("N", -(3));'))
        .to.deep.equal({ B: 5, O: 15, O2: 15, M: 1000, P: 2, N: -3 });
    });

    it('concatenates numbers, booleans and null as PHP does', () => {
      expect(parseSettingsPhp('<?php define("C", "a" . 1 . true . false . null . 2.5);').C).to.equal('a112.5');
    });

    it('keeps arrays in short and long form with keys, nested arrays and constant keys', () => {
      const [def] = parsePhpDefines(`<?php define("X", ['k' => [1, 2], 5 => true, MYSQLI_OPT_CONNECT_TIMEOUT => 7, 'v']);`);
      expect(def!.value).to.deep.equal({
        kind: 'array',
        raw: "['k' => [1, 2], 5 => true, MYSQLI_OPT_CONNECT_TIMEOUT => 7, 'v']",
        entries: [
          { key: 'k', value: { kind: 'array', raw: '[1, 2]', entries: [{ key: null, value: 1 }, { key: null, value: 2 }] } },
          { key: 5, value: true },
          { key: { kind: 'constant', name: 'MYSQLI_OPT_CONNECT_TIMEOUT' }, value: 7 },
          { key: null, value: 'v' },
        ],
      });
    });

    it('reports as expressions: calls, casts, class constants, variables, spreads, other magic constants and unknown constants in a concatenation', () => {
      const defines = parsePhpDefines(`<?php
define("A", strtolower("X"));
define("B", (int) "3");
define("C", Foo::BAR);
define("D", $x);
define("E", [...$list]);
define("F", __LINE__);
define("G", UNKNOWN . "x");
define("H", "a {$x} b");
define("I", <<<EOT
  $x
  EOT);
`);
      expect(defines.map((d) => d.value)).to.deep.equal([
        { kind: 'expression', raw: 'strtolower("X")' },
        { kind: 'expression', raw: '(int) "3"' },
        { kind: 'expression', raw: 'Foo::BAR' },
        { kind: 'expression', raw: '$x' },
        { kind: 'expression', raw: '[...$list]' },
        { kind: 'expression', raw: '__LINE__' },
        { kind: 'expression', raw: 'UNKNOWN . "x"' },
        { kind: 'expression', raw: '"a {$x} b"' },
        { kind: 'expression', raw: '<<<EOT\n  $x\n  EOT' },
      ]);
    });

    it('does not let a constant that is an expression into a concatenation', () => {
      const defines = parsePhpDefines('<?php define("A", getenv("X")); define("B", A . "x"); define("C", A);');
      expect(defines.map((d) => d.value)).to.deep.equal([
        { kind: 'expression', raw: 'getenv("X")' },
        { kind: 'expression', raw: 'A . "x"' },
        { kind: 'expression', raw: 'A' },
      ]);
    });

    it('reads a file with a byte order mark and short open tags', () => {
      expect(parseSettingsPhp('\uFEFF<? define("A", "a"); ?>\n<?php define("B", "b");')).to.deep.equal({ A: 'a', B: 'b' });
    });
  });

  describe('readTeampassSettings', () => {
    let tmp: string;

    beforeEach(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'teampass-ws-defines-'));
    });

    afterEach(async () => {
      await rm(tmp, { recursive: true, force: true });
    });

    async function install(settings: string): Promise<string> {
      const dir = path.join(tmp, 'includes', 'config');
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'settings.php'), settings);
      return tmp;
    }

    it('reads concatenated values and a short-array DB_CONNECT_OPTIONS', async () => {
      const root = await install(`<?php
define("SITE", "tp");
define("DB_HOST", "db." . SITE . ".test");
define("DB_USER", SITE . "_user");
define("DB_PASSWD", 'pa' . "\\$\\$" . 'word');
define("DB_NAME", SITE);
define("DB_PORT", 3300 . 7);
define("DB_CONNECT_OPTIONS", [MYSQLI_OPT_CONNECT_TIMEOUT => 4]);
`);
      const s = await readTeampassSettings(root);
      expect(s.db).to.deep.include({ host: 'db.tp.test', user: 'tp_user', password: 'pa$$word', database: 'tp', port: 33007, connectTimeoutSec: 4 });
    });

    it('names the constant and its line when a value needs PHP to run', async () => {
      const root = await install(`<?php
define("DB_HOST", "h");
define("DB_USER", "u");
define("DB_PASSWD", "p");
define("DB_NAME", getenv("TP_DB_NAME"));
`);
      const err = await rejection(readTeampassSettings(root));
      expect(err.code).to.equal('SETTINGS_INVALID');
      expect(err.message).to.match(/DB_NAME \(line 5\) is not a literal string/);
      expect(err.suggestion).to.match(/never runs it/);
    });

    it('names the settings.php path in a syntax error', async () => {
      const root = await install('<?php\ndefine("DB_HOST", "h")\ndefine("DB_USER", "u");\n');
      const err = await rejection(readTeampassSettings(root));
      expect(err.code).to.equal('SETTINGS_INVALID');
      expect(err.message).to.equal(`${path.join(root, 'includes', 'config', 'settings.php')} cannot be read as PHP: syntax error, unexpected T_STRING, expecting ';' (line 3).`);
    });
  });
});
