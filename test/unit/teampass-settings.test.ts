import { expect } from 'chai';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { TeampassWsError } from '../../src/errors.js';
import { ROOT } from '../helpers/cli.js';
import { thrown, rejection } from '../helpers/errors.js';
import {
  createDefuseKey,
  encryptDefuse,
  findTeampassInstall,
  loadDefuseKey,
  parsePhpDefines,
  parseSettingsPhp,
  readTeampassSettings,
} from '../../src/teampass/index.js';

/** settings.php as TeamPass's 3.1 installer writes it (install/install-steps/run.step5.php). */
function settings31(o: { passwd: string; securePath?: string; secureFile?: string; prefix?: string; port?: string }): string {
  return `<?php
// DATABASE connexion parameters
define("DB_HOST", "db.example.test");
define("DB_USER", "teampass_user");
define("DB_PASSWD", "${o.passwd}");
define("DB_NAME", "teampass");
define("DB_PREFIX", "${o.prefix ?? 'teampass_'}");
define("DB_PORT", "${o.port ?? '3306'}");
define("DB_ENCODING", "utf8mb4");
define("DB_SSL", false); // if DB over SSL then comment this line
// if DB over SSL then uncomment the following lines
//define("DB_SSL", array(
//    "key" => "",
//    "cert" => "",
//    "ca_cert" => "",
//    "ca_path" => "",
//    "cipher" => ""
//));
define("DB_CONNECT_OPTIONS", array(
    MYSQLI_OPT_CONNECT_TIMEOUT => 10
));
${o.securePath === undefined ? '' : `define("SECUREPATH", "${o.securePath}");\n`}${o.secureFile === undefined ? '' : `define("SECUREFILE", "${o.secureFile}");\n`}
if (isset($_SESSION['settings']['timezone']) === true) {
    date_default_timezone_set($_SESSION['settings']['timezone']);
}
`;
}

/** The 3.2 layout has no SECUREPATH: the key lives in <root>/secrets. */
function settings32(o: { passwd: string; secureFile: string }): string {
  return `<?php
define('DB_HOST', '127.0.0.1');
define('DB_USER', 'tp32');
define('DB_PASSWD', '${o.passwd}');
define('DB_NAME', 'teampass32');
define('DB_PREFIX', 'tp32_');
define('DB_PORT', '3307');
define('DB_ENCODING', 'utf8mb4');
define('DB_SSL', array(
    'key' => '/etc/mysql/client-key.pem',
    'cert' => '/etc/mysql/client-cert.pem',
    'ca_cert' => '',
));
define('SECUREFILE', '${o.secureFile}');
`;
}

function errorText(err: TeampassWsError): string {
  return `${err.message}\n${err.suggestion ?? ''}\n${String(err)}\n${err.stack ?? ''}`;
}

describe('teampass/settings', () => {
  describe('parseSettingsPhp', () => {
    it('reads the installer\'s define() lines with both quote styles, numbers and booleans', () => {
      const s = parseSettingsPhp(`<?php
define("DB_HOST", "localhost");
define('DB_USER', 'admin');
define("DB_PORT", 3307);
define('DB_SSL', false);
define('FLAG', TRUE);
define("RATIO", -1.5);
define("HEXNUM", 0x1F);
@define('COST', '13');
`);
      expect(s).to.deep.equal({ DB_HOST: 'localhost', DB_USER: 'admin', DB_PORT: 3307, DB_SSL: false, FLAG: true, RATIO: -1.5, HEXNUM: 31, COST: '13' });
    });

    it('applies PHP\'s escapes: \\$ \\" \\\\ in double quotes, only \\\' and \\\\ in single quotes', () => {
      const s = parseSettingsPhp(String.raw`<?php
define("D", "a\$b\"c\\d\x41\101\u{e9}\q");
define('S', 'a\$b\'c\\d\n');
`);
      expect(s.D).to.equal('a$b"c\\dAAé\\q');
      expect(s.S).to.equal("a\\$b'c\\d\\n");
    });

    it('decodes byte escapes as UTF-8 bytes, as PHP hands them to mysqli', () => {
      expect(parseSettingsPhp(String.raw`<?php define("E", "caf\xc3\xa9");`).E).to.equal('café');
    });

    it('ignores defines inside //, # and /* */ comments, strings and HTML outside <?php', () => {
      const s = parseSettingsPhp(`<html>define("OUTSIDE", "x");</html>
<?php
// define("A", "line comment");
# define("B", "hash comment");
/* define("C", "block comment"); */
$x = 'define("D", "in a string")';
define("REAL", "yes"); // define("E", "trailing")
?>
define("AFTER_CLOSE", "x");
`);
      expect(s).to.deep.equal({ REAL: 'yes' });
    });

    it('keeps the first define of a name, as PHP does', () => {
      expect(parseSettingsPhp(`<?php define("X", "first"); define("X", "second");`).X).to.equal('first');
    });

    it('leaves arrays out of the record but keeps their source text and entries in parsePhpDefines', () => {
      const text = settings31({ passwd: 'p', securePath: '/s', secureFile: 'f' });
      expect(parseSettingsPhp(text)).to.not.have.property('DB_CONNECT_OPTIONS');
      const options = parsePhpDefines(text).find((d) => d.name === 'DB_CONNECT_OPTIONS')!;
      expect(options.value).to.deep.include({ kind: 'array', raw: 'array(\n    MYSQLI_OPT_CONNECT_TIMEOUT => 10\n)' });
      expect(options.value).to.have.nested.property('entries[0].value', 10);
    });

    it('resolves concatenation, earlier constants and __DIR__ when the file path is known', () => {
      const s = parseSettingsPhp(`<?php
define("BASE", "/srv");
define("SECUREPATH", BASE . '/secure' . "/" . 1);
define("HERE", __DIR__ . "/../secrets");
`, { file: '/var/www/teampass/app/config/settings.php' });
      expect(s.SECUREPATH).to.equal('/srv/secure/1');
      expect(s.HERE).to.equal('/var/www/teampass/app/config/../secrets');
    });

    it('reports what it cannot evaluate as an expression instead of guessing', () => {
      const defines = parsePhpDefines(`<?php
define("FROM_ENV", getenv("DB_PASS"));
define("VAR", "pa$word");
`);
      expect(defines.map((d) => d.value)).to.deep.equal([
        { kind: 'expression', raw: 'getenv("DB_PASS")' },
        { kind: 'expression', raw: '"pa$word"' },
      ]);
      expect(parseSettingsPhp(`<?php define("VAR", "pa$word");`)).to.deep.equal({});
    });

    it('reads heredoc and nowdoc values', () => {
      const s = parseSettingsPhp(`<?php
define("H", <<<EOT
    one \\$ "two"
    EOT);
define("N", <<<'EOT'
raw \\$
EOT
);
`);
      expect(s.H).to.equal('one $ "two"');
      expect(s.N).to.equal('raw \\$');
    });

    it('fails with SETTINGS_INVALID and a line number on an unterminated string, without quoting it', () => {
      const err = thrown(() => parseSettingsPhp('<?php\ndefine("DB_HOST", "x");\ndefine("DB_PASSWD", "s3cret-unterminated);\n'));
      expect(err.code).to.equal('SETTINGS_INVALID');
      expect(err.message).to.match(/double-quoted string is never closed \(line 3\)/);
      expect(errorText(err)).to.not.contain('s3cret');
    });
  });

  describe('installations on disk', () => {
    let tmp: string;
    const password = 'Db-pa$$w0rd "quoted" \\ ünï';

    beforeEach(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'teampass-ws-settings-'));
    });

    afterEach(async () => {
      await chmod(tmp, 0o700).catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
    });

    async function write(file: string, content: string): Promise<string> {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
      return file;
    }

    /** A 3.1 install: settings in includes/config, key outside the web root under SECUREPATH. */
    async function install31(opts: { keyText?: string; encryptWith?: string; passwd?: string } = {}) {
      const keyText = opts.keyText ?? createDefuseKey();
      const root = path.join(tmp, 'www', 'teampass');
      const securePath = path.join(tmp, 'secure');
      const secureFile = 'a1b2c3d4e5';
      const encrypted = encryptDefuse(password, loadDefuseKey(opts.encryptWith ?? keyText));
      const keyFile = await write(path.join(securePath, secureFile), keyText);
      const settingsPath = await write(
        path.join(root, 'includes', 'config', 'settings.php'),
        settings31({ passwd: opts.passwd ?? encrypted, securePath, secureFile }),
      );
      return { root, keyFile, settingsPath, encrypted };
    }

    it('reads a 3.1 layout and decrypts DB_PASSWD with SECUREPATH/SECUREFILE', async () => {
      const { root, keyFile, settingsPath, encrypted } = await install31();
      const s = await readTeampassSettings(root);
      expect(s.version).to.equal('3.1');
      expect(s.root).to.equal(root);
      expect(s.settingsPath).to.equal(settingsPath);
      expect(s.keyFilePath).to.equal(keyFile);
      expect(s.passwordEncrypted).to.equal(true);
      expect(s.rawDbPasswd).to.equal(encrypted);
      expect({ ...s.db }).to.deep.equal({
        host: 'db.example.test',
        port: 3306,
        user: 'teampass_user',
        password,
        database: 'teampass',
        prefix: 'teampass_',
        ssl: false,
        encoding: 'utf8mb4',
        connectTimeoutSec: 10,
      });
    });

    it('reads a 3.2 layout with the key in <root>/secrets and DB_SSL as an array', async () => {
      const keyText = createDefuseKey();
      const root = path.join(tmp, 'tp32');
      const keyFile = await write(path.join(root, 'secrets', 'f00dfeed'), `${keyText}\n`);
      const encrypted = encryptDefuse(password, loadDefuseKey(keyText));
      await write(path.join(root, 'app', 'config', 'settings.php'), settings32({ passwd: encrypted, secureFile: 'f00dfeed' }));

      const s = await readTeampassSettings(root);
      expect(s.version).to.equal('3.2');
      expect(s.keyFilePath).to.equal(keyFile);
      expect(s.rawDbPasswd).to.equal(encrypted);
      expect(s.db.password).to.equal(password);
      expect(s.db).to.deep.include({ host: '127.0.0.1', port: 3307, user: 'tp32', database: 'teampass32', prefix: 'tp32_' });
      expect(s.db.ssl).to.deep.equal({ key: '/etc/mysql/client-key.pem', cert: '/etc/mysql/client-cert.pem' });
    });

    it('prefers the 3.2 layout when both settings files exist', async () => {
      const { root } = await install31({ passwd: 'clear' });
      await write(path.join(root, 'app', 'config', 'settings.php'), settings32({ passwd: 'clear32', secureFile: 'x' }));
      const found = await findTeampassInstall(root);
      expect(found.version).to.equal('3.2');
      expect(found.settings.DB_PASSWD).to.equal('clear32');
    });

    it('accepts a clear DB_PASSWD with escaped \\$ as is, without needing a key file', async () => {
      const root = path.join(tmp, 'clear');
      await write(
        path.join(root, 'includes', 'config', 'settings.php'),
        settings31({ passwd: String.raw`pa\$\$w\"rd\\x`, securePath: path.join(tmp, 'nowhere'), secureFile: 'missing', prefix: '', port: '' }),
      );
      const s = await readTeampassSettings(root);
      expect(s.passwordEncrypted).to.equal(false);
      expect(s.keyFilePath).to.equal(null);
      expect(s.db.password).to.equal('pa$$w"rd\\x');
      expect(s.rawDbPasswd).to.equal('pa$$w"rd\\x');
      expect(s.db.port).to.equal(3306);
      expect(s.db.prefix).to.equal('');
    });

    it('defaults DB_PREFIX to teampass_, the port to 3306 and the encoding to utf8mb4 when they are not defined', async () => {
      const root = path.join(tmp, 'minimal');
      await write(path.join(root, 'includes', 'config', 'settings.php'), `<?php
define("DB_HOST", "h"); define("DB_USER", "u"); define("DB_PASSWD", "p"); define("DB_NAME", "n");
`);
      const s = await readTeampassSettings(root);
      expect(s.db).to.deep.include({ prefix: 'teampass_', port: 3306, encoding: 'utf8mb4', ssl: false });
      expect(s.db).to.not.have.property('connectTimeoutSec');
    });

    it('finds the key of old files: SECUREPATH alone means SECUREPATH/teampass-seckey.txt', async () => {
      const keyText = createDefuseKey();
      const root = path.join(tmp, 'old');
      const keyFile = await write(path.join(tmp, 'sk', 'teampass-seckey.txt'), keyText);
      await write(
        path.join(root, 'includes', 'config', 'settings.php'),
        settings31({ passwd: encryptDefuse(password, loadDefuseKey(keyText)), securePath: path.join(tmp, 'sk') }),
      );
      const s = await readTeampassSettings(root);
      expect(s.keyFilePath).to.equal(keyFile);
      expect(s.db.password).to.equal(password);
    });

    it('finds the key of old files: SECUREFILE alone is the key file itself', async () => {
      const keyText = createDefuseKey();
      const root = path.join(tmp, 'old2');
      const keyFile = await write(path.join(tmp, 'keys', 'tp.key'), keyText);
      await write(
        path.join(root, 'includes', 'config', 'settings.php'),
        settings31({ passwd: encryptDefuse(password, loadDefuseKey(keyText)), secureFile: keyFile }),
      );
      const found = await findTeampassInstall(root);
      expect(found.keyFileCandidates).to.deep.equal([keyFile, path.join(tmp, 'keys', 'teampass-seckey.txt')]);
      expect((await readTeampassSettings(root)).db.password).to.equal(password);
    });

    describe('failures', () => {
      it('reports a missing settings.php with both paths tried and what --teampass-root must be', async () => {
        const err = await rejection(readTeampassSettings(tmp));
        expect(err.code).to.equal('SETTINGS_NOT_FOUND');
        expect(err.message).to.contain(path.join(tmp, 'app', 'config', 'settings.php'));
        expect(err.message).to.contain(path.join(tmp, 'includes', 'config', 'settings.php'));
        expect(err.suggestion).to.match(/--teampass-root must point at TeamPass's root folder/);
      });

      it('reports a root that does not exist', async () => {
        const err = await rejection(findTeampassInstall(path.join(tmp, 'nope')));
        expect(err.code).to.equal('SETTINGS_NOT_FOUND');
        expect(err.message).to.match(/does not exist/);
        expect(err.suggestion).to.match(/--teampass-root/);
      });

      it('points at the right folder when given the config folder itself', async () => {
        const { root } = await install31({ passwd: 'clear' });
        const err = await rejection(findTeampassInstall(path.join(root, 'includes', 'config')));
        expect(err.code).to.equal('SETTINGS_NOT_FOUND');
        expect(err.suggestion).to.contain(`use --teampass-root ${root}`);
      });

      it('reports a missing key file by path, with the read access hint, and without the password', async () => {
        const { root, keyFile, encrypted } = await install31();
        await rm(keyFile);
        const err = await rejection(readTeampassSettings(root));
        expect(err.code).to.equal('KEY_FILE');
        expect(err.message).to.contain(keyFile);
        expect(err.message).to.match(/does not exist/);
        expect(err.suggestion).to.match(/needs read access/);
        expect(errorText(err)).to.not.contain(password);
        expect(errorText(err)).to.not.contain(encrypted);
      });

      it('reports an unreadable key file as such', async function () {
        const { root, keyFile } = await install31();
        await chmod(keyFile, 0o000);
        const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
        // Root reads any file, so as root the read is made by the unprivileged user nobody.
        const err = asRoot ? await readAsNobody(root, tmp) : errorFields(await rejection(readTeampassSettings(root)));
        expect(err.code).to.equal('KEY_FILE');
        expect(err.message).to.contain(keyFile);
        expect(err.message).to.match(/cannot be read by user .* \(EACCES\)/);
        expect(err.suggestion).to.match(/needs read access/);
      });

      it('reports a key file with a bad checksum as KEY_CHECKSUM, naming the file', async () => {
        const keyText = createDefuseKey();
        const damaged = keyText.slice(0, 30) + (keyText[30] === 'a' ? 'b' : 'a') + keyText.slice(31);
        const { root, keyFile } = await install31({ keyText: damaged, encryptWith: keyText });
        const err = await rejection(readTeampassSettings(root));
        expect(err.code).to.equal('KEY_CHECKSUM');
        expect(err.message).to.contain(keyFile);
        expect(errorText(err)).to.not.contain(password);
      });

      it('reports a key from another installation as DECRYPT_FAILED (HMAC mismatch), without the password or DB_PASSWD', async () => {
        const { root, encrypted, settingsPath, keyFile } = await install31({ encryptWith: createDefuseKey() });
        const err = await rejection(readTeampassSettings(root));
        expect(err.code).to.equal('DECRYPT_FAILED');
        expect(err.message).to.match(/HMAC mismatch/);
        expect(err.message).to.contain(settingsPath);
        expect(err.message).to.contain(keyFile);
        expect(errorText(err)).to.not.contain(password);
        expect(errorText(err)).to.not.contain(encrypted);
      });

      it('reports a "def..." DB_PASSWD that is not a ciphertext as a format problem', async () => {
        const { root } = await install31({ passwd: 'default-Passw0rd' });
        const err = await rejection(readTeampassSettings(root));
        expect(err.code).to.equal('DECRYPT_FAILED');
        expect(err.message).to.match(/not a defuse v2 ciphertext/);
        expect(errorText(err)).to.not.contain('default-Passw0rd');
      });

      it('reports missing DB_* defines by name', async () => {
        const root = path.join(tmp, 'partial');
        await write(path.join(root, 'includes', 'config', 'settings.php'), `<?php define("DB_USER", "u"); define("DB_PASSWD", "Secret-1");`);
        const err = await rejection(readTeampassSettings(root));
        expect(err.code).to.equal('SETTINGS_INVALID');
        expect(err.message).to.match(/DB_HOST, DB_NAME are not defined/);
        expect(errorText(err)).to.not.contain('Secret-1');
      });

      it('reports the blank template (empty DB_HOST) and a file without define()', async () => {
        const root = path.join(tmp, 'blank');
        const file = await write(path.join(root, 'includes', 'config', 'settings.php'), `<?php
define("DB_HOST", ""); define("DB_USER", ""); define("DB_PASSWD", ""); define("DB_NAME", "");`);
        const blank = await rejection(readTeampassSettings(root));
        expect(blank.code).to.equal('SETTINGS_INVALID');
        expect(blank.message).to.match(/DB_HOST, DB_USER, DB_NAME are empty/);

        await writeFile(file, '<?php\n$config = [];\n');
        const none = await rejection(readTeampassSettings(root));
        expect(none.code).to.equal('SETTINGS_INVALID');
        expect(none.message).to.match(/holds no define/);
      });

      it('refuses a DB_PASSWD it would have to run PHP to know, without quoting it', async () => {
        const root = path.join(tmp, 'interp');
        await write(path.join(root, 'includes', 'config', 'settings.php'), settings31({ passwd: 'Leak$ME', securePath: '/s', secureFile: 'f' }));
        const err = await rejection(readTeampassSettings(root));
        expect(err.code).to.equal('SETTINGS_INVALID');
        expect(err.message).to.match(/DB_PASSWD \(line 5\) is not a literal string/);
        expect(err.suggestion).to.match(/escaped as \\\$/);
        expect(errorText(err)).to.not.contain('Leak');
      });

      it('refuses a DB_PREFIX that is not a plain identifier and a DB_PORT that is not a port', async () => {
        const root = path.join(tmp, 'prefix');
        const file = await write(path.join(root, 'includes', 'config', 'settings.php'), settings31({ passwd: 'x', prefix: 'tp`; DROP', securePath: '/s', secureFile: 'f' }));
        const prefix = await rejection(readTeampassSettings(root));
        expect(prefix.code).to.equal('SETTINGS_INVALID');
        expect(prefix.message).to.match(/DB_PREFIX/);

        await writeFile(file, settings31({ passwd: 'x', port: '70000', securePath: '/s', secureFile: 'f' }));
        const port = await rejection(readTeampassSettings(root));
        expect(port.code).to.equal('SETTINGS_INVALID');
        expect(port.message).to.match(/DB_PORT "70000" is not a TCP port/);
      });
    });

    it('never shows the password or DB_PASSWD when the results are printed or serialised', async () => {
      const { root, encrypted } = await install31();
      const s = await readTeampassSettings(root);
      const found = await findTeampassInstall(root);
      for (const shown of [inspect(s, { depth: 10 }), JSON.stringify(s), inspect(s.db), JSON.stringify(s.db), inspect(found, { depth: 10 }), JSON.stringify(found)]) {
        expect(shown).to.not.contain(password);
        expect(shown).to.not.contain(encrypted);
      }
      expect(inspect(s)).to.contain('[redacted]');
      expect(s.db.password).to.equal(password);
    });
  });
});

function errorFields(err: TeampassWsError): { code: string; message: string; suggestion?: string } {
  return { code: err.code, message: err.message, suggestion: err.suggestion };
}

const NOBODY_UID = 65534;

/** Runs readTeampassSettings(root) from the compiled module in a child process running as nobody. */
async function readAsNobody(root: string, tmp: string): Promise<{ code: string; message: string; suggestion?: string }> {
  const { spawnSync } = await import('node:child_process');
  const { pathToFileURL } = await import('node:url');
  const moduleUrl = pathToFileURL(path.join(ROOT, 'dist', 'src', 'teampass', 'index.js')).href;
  // The temporary folders are private to root; nobody needs to traverse them to reach the files.
  for (let dir = root; dir.startsWith(tmp); dir = path.dirname(dir)) await chmod(dir, 0o755);
  await chmod(path.join(root, 'includes', 'config'), 0o755);
  await chmod(path.join(root, 'includes', 'config', 'settings.php'), 0o644);
  await chmod(path.join(tmp, 'secure'), 0o755);
  const script = `import(${JSON.stringify(moduleUrl)}).then((m) => m.readTeampassSettings(${JSON.stringify(root)})).then(
    () => { console.log(JSON.stringify({ code: 'NO_ERROR', message: '' })); },
    (e) => { console.log(JSON.stringify({ code: e.code, message: e.message, suggestion: e.suggestion })); })`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { uid: NOBODY_UID, gid: NOBODY_UID, encoding: 'utf8', cwd: '/' });
  if (child.status !== 0) throw new Error(`child as nobody failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as { code: string; message: string; suggestion?: string };
}
