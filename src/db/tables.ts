/**
 * knex has no table-prefix option: every query names its table through this map, so the
 * TeamPass prefix (DB_PREFIX) is applied in one place.
 */
export interface TableNames {
  readonly events: string;
  readonly connections: string;
  readonly tokens: string;
  readonly misc: string;
  readonly users: string;
  readonly nestedTree: string;
  readonly rolesValues: string;
  readonly usersRoles: string;
  readonly usersGroups: string;
  readonly usersGroupsForbidden: string;
  readonly items: string;
  readonly itemsEdition: string;
  readonly kb: string;
  readonly kbEdition: string;
  readonly apiSessions: string;
  /** This project's own migration bookkeeping; never one of TeamPass's names. */
  readonly migrations: string;
}

const PREFIX_PATTERN = /^[A-Za-z0-9_]{0,40}$/;

export function isValidPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

export function tableNames(prefix: string): TableNames {
  const t = (name: string) => `${prefix}${name}`;
  return {
    events: t('websocket_events'),
    connections: t('websocket_connections'),
    tokens: t('websocket_tokens'),
    misc: t('misc'),
    users: t('users'),
    nestedTree: t('nested_tree'),
    rolesValues: t('roles_values'),
    usersRoles: t('users_roles'),
    usersGroups: t('users_groups'),
    usersGroupsForbidden: t('users_groups_forbidden'),
    items: t('items'),
    itemsEdition: t('items_edition'),
    kb: t('kb'),
    kbEdition: t('kb_edition'),
    apiSessions: t('api_sessions'),
    migrations: t('ws_migrations'),
  };
}
