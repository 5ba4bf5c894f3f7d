import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDefuseKey, encryptDefuse, loadDefuseKey } from '../../src/teampass/index.js';
import { tempDir } from './backends.js';

export interface InstallOptions {
  version: '3.1' | '3.2';
  host?: string;
  port?: number;
  user?: string;
  password: string;
  database?: string;
  prefix?: string;
  /** Write DB_PASSWD in clear instead of encrypted with the install's key. */
  clearPassword?: boolean;
}

/** A TeamPass folder on disk as the installer leaves it: settings.php and a defuse key file. */
export function makeTeampassInstall(opts: InstallOptions): string {
  const root = tempDir('tpws-teampass-');
  const keyText = createDefuseKey();
  const passwd = opts.clearPassword ? opts.password : encryptDefuse(opts.password, loadDefuseKey(keyText));
  const secureFile = 'tp-seckey-ab12cd.txt';
  const lines = [
    '<?php',
    `define("DB_HOST", "${opts.host ?? '127.0.0.1'}");`,
    `define("DB_USER", "${opts.user ?? 'teampass'}");`,
    `define("DB_PASSWD", "${passwd.replace(/\$/g, '\\$')}");`,
    `define("DB_NAME", "${opts.database ?? 'teampass'}");`,
    `define("DB_PREFIX", "${opts.prefix ?? 'teampass_'}");`,
    `define("DB_PORT", "${opts.port ?? 3306}");`,
    'define("DB_ENCODING", "utf8mb4");',
    'define("DB_SSL", false);',
    'define("DB_CONNECT_OPTIONS", array(MYSQLI_OPT_CONNECT_TIMEOUT => 10));',
  ];
  if (opts.version === '3.2') {
    mkdirSync(path.join(root, 'app', 'config'), { recursive: true });
    mkdirSync(path.join(root, 'secrets'), { recursive: true });
    writeFileSync(path.join(root, 'secrets', secureFile), keyText);
    lines.push(`define("SECUREFILE", "${secureFile}");`);
    writeFileSync(path.join(root, 'app', 'config', 'settings.php'), `${lines.join('\n')}\n`);
  } else {
    const securePath = path.join(root, 'sk');
    mkdirSync(path.join(root, 'includes', 'config'), { recursive: true });
    mkdirSync(securePath, { recursive: true });
    writeFileSync(path.join(securePath, secureFile), keyText);
    lines.push(`define("SECUREPATH", "${securePath}");`, `define("SECUREFILE", "${secureFile}");`);
    writeFileSync(path.join(root, 'includes', 'config', 'settings.php'), `${lines.join('\n')}\n`);
  }
  return root;
}
