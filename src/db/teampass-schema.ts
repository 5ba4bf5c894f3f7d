import type { Database } from './knex.js';

/**
 * The part of TeamPass's own schema the daemon reads, for the embedded demo database and for
 * tests. Production never runs this: there TeamPass's installer owns these tables.
 * Column names and meanings follow TeamPass; types are the portable subset.
 */
export async function createTeampassTables(db: Database): Promise<void> {
  const { knex, t } = db;
  const create = async (name: string, build: Parameters<typeof knex.schema.createTable>[1]) => {
    if (!(await knex.schema.hasTable(name))) {
      await knex.schema.createTable(name, (table) => {
        if (db.client === 'mysql') {
          table.engine('InnoDB');
          table.charset('utf8mb4');
          table.collate('utf8mb4_unicode_ci');
        }
        build(table);
      });
    }
  };
  await create(t.users, (table) => {
    table.increments('id');
    table.string('login', 500).notNullable();
    table.string('name', 100).nullable();
    table.string('lastname', 100).nullable();
    table.integer('admin').notNullable().defaultTo(0);
    table.integer('gestionnaire').notNullable().defaultTo(0);
    table.integer('disabled').notNullable().defaultTo(0);
    table.integer('personal_folder').notNullable().defaultTo(0);
    table.string('key_tempo', 100).nullable();
    table.string('session_end', 30).nullable();
    table.string('deleted_at', 30).nullable();
  });
  await create(t.misc, (table) => {
    table.increments('increment_id');
    table.string('type', 50).notNullable();
    table.string('intitule', 100).notNullable();
    table.text('valeur').nullable();
    table.string('created_at', 255).nullable();
    table.string('updated_at', 255).nullable();
    table.integer('is_encrypted').notNullable().defaultTo(0);
  });
  await create(t.nestedTree, (table) => {
    table.increments('id');
    table.integer('parent_id').notNullable().defaultTo(0);
    table.string('title', 255).notNullable();
    table.integer('nleft').notNullable().defaultTo(0);
    table.integer('nright').notNullable().defaultTo(0);
    table.integer('nlevel').notNullable().defaultTo(0);
    table.integer('personal_folder').notNullable().defaultTo(0);
  });
  await create(t.rolesValues, (table) => {
    table.increments('increment_id');
    table.integer('role_id').notNullable();
    table.integer('folder_id').notNullable();
    table.string('type', 5).notNullable().defaultTo('R');
  });
  await create(t.usersRoles, (table) => {
    table.increments('increment_id');
    table.integer('user_id').notNullable();
    table.integer('role_id').notNullable();
    table.string('source', 20).notNullable().defaultTo('manual');
  });
  for (const name of [t.usersGroups, t.usersGroupsForbidden]) {
    await create(name, (table) => {
      table.increments('increment_id');
      table.integer('user_id').notNullable();
      table.integer('group_id').notNullable();
    });
  }
  await create(t.items, (table) => {
    table.increments('id');
    table.string('label', 500).notNullable();
    table.integer('id_tree').notNullable();
  });
  await create(t.itemsEdition, (table) => {
    table.increments('increment_id');
    table.integer('item_id').notNullable();
    table.integer('user_id').notNullable();
    table.string('timestamp', 50).notNullable();
  });
  await create(t.kb, (table) => {
    table.increments('id');
    table.string('label', 200).notNullable();
  });
  await create(t.kbEdition, (table) => {
    table.increments('increment_id');
    table.integer('kb_id').notNullable();
    table.integer('user_id').notNullable();
    table.string('timestamp', 50).notNullable();
  });
  await create(t.apiSessions, (table) => {
    table.increments('id');
    table.string('jti', 32).notNullable();
    table.integer('user_id').notNullable().defaultTo(0);
    table.string('key_tempo', 100).nullable();
    table.integer('expires_at').notNullable().defaultTo(0);
    table.integer('revoked_at').nullable();
  });
}
