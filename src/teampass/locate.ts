import { existsSync } from 'node:fs';
import path from 'node:path';

/** Where Debian-style installs and TeamPass's own guide put it. */
export const USUAL_TEAMPASS_ROOTS = ['/var/www/html/TeamPass', '/var/www/html/teampass', '/var/www/TeamPass', '/var/www/teampass', '/srv/teampass', '/usr/share/teampass'];

const SETTINGS = [path.join('app', 'config', 'settings.php'), path.join('includes', 'config', 'settings.php')];

/** The first of `roots` that holds a TeamPass settings.php (3.2 or 3.1 layout), if any. */
export function locateTeampass(roots: readonly string[] = USUAL_TEAMPASS_ROOTS): string | undefined {
  return roots.find((root) => SETTINGS.some((rel) => existsSync(path.join(root, rel))));
}
