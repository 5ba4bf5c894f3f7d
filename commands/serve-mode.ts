import type { LoadedConfig } from '../src/config/index.js';
import { TeampassWsError } from '../src/errors.js';
import { locateTeampass } from '../src/teampass/index.js';

export type ServeMode = 'demo' | 'teampass';

export interface ModeInput {
  loaded: LoadedConfig;
  /** --demo given. */
  demo: boolean;
  /** Standard input and output are a terminal: a person typed the command. */
  terminal: boolean;
  /** Finds an installed TeamPass; injectable so the rule can be tested anywhere. */
  locate?: () => string | undefined;
}

const NAME_IT = 'Name its database: --teampass-root /var/www/html/TeamPass (reads settings.php), or --db mysql://user:password@host:3306/teampass';

/**
 * The demo runs only when asked for (--demo) or for a bare `serve` typed at a terminal with no
 * config file and no TeamPass on this machine. A daemon started by systemd, a script or a config
 * file that lacks a database must fail, not silently serve demo data.
 */
export function chooseServeMode({ loaded, demo, terminal, locate = locateTeampass }: ModeInput): ServeMode {
  if (demo) return 'demo';
  if (loaded.dbTarget) return 'teampass';
  requireDatabase(loaded, 'serve');
  const found = locate();
  if (found) {
    throw new TeampassWsError('USAGE', `No database is named, and TeamPass is installed at ${found}.`, {
      suggestion: `Serve it: teampass-ws serve --teampass-root ${found} (or --demo for the demo on a database of its own).`,
      exitCode: 1,
    });
  }
  if (!terminal) {
    throw new TeampassWsError('USAGE', 'No database is named: serve runs the embedded demo only when asked, or when typed at a terminal.', {
      suggestion: `${NAME_IT}, or add --demo to run the demo.`,
      exitCode: 1,
    });
  }
  return 'demo';
}

/** A config file that names no database is a mistake, whatever else it sets; so is a unit without one. */
export function requireDatabase(loaded: LoadedConfig, command: 'serve' | 'install-systemd'): void {
  if (loaded.dbTarget) return;
  const keys = 'set "db" or "teampass_root" in it (or the db_host, db_user, db_password, db_name keys)';
  if (loaded.configFile) {
    throw new TeampassWsError('CONFIG_INVALID', `The config file ${loaded.configFile} names no database, so ${command === 'serve' ? 'serve' : 'the unit'} would run the demo.`, {
      suggestion: `${keys}; or give --teampass-root / --db.`,
    });
  }
  if (command === 'install-systemd') {
    throw new TeampassWsError('USAGE', 'No database is named, so the unit would run the demo: the service must serve TeamPass.', {
      suggestion: `${NAME_IT}, or --config with a file that names one.`,
      exitCode: 1,
    });
  }
}
