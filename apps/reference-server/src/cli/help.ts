/** The top-level help text. */
export const MAIN_HELP = `Usage: tollgate <command> [options]

Runs a Tollgate LLM gateway from a config file (YAML or JSON), on an embedded database
by default or on PostgreSQL when DATABASE_URL is set.

Commands:
  start            Start the gateway: run migrations, bootstrap an empty database, listen
  migrate          Run pending database migrations and exit
  config print     Print the resolved configuration (secrets masked)
  user create      Create a user
  org create       Create an organization owned by an existing user
  project create   Create a project in an organization
  key create       Create an API key for a project (the secret is printed once)

Options for every command:
  -c, --config <path>   Config file; default $TOLLGATE_CONFIG, else the built-in defaults
  -h, --help            Show help (also: tollgate <command> --help)
  -v, --version         Show the version

Environment:
  PORT, HOST                              Where to listen (default 8080 on 127.0.0.1)
  DATABASE_URL                            PostgreSQL instead of the embedded database
  TOLLGATE_DATA_DIR                       Embedded database and generated key (default .tollgate-data)
  TOLLGATE_PROVIDER_KEY_ENCRYPTION_KEY    32 bytes, base64; required with DATABASE_URL
  OPENAI_API_KEY, ANTHROPIC_API_KEY       Enable those providers (OPENAI_BASE_URL, ANTHROPIC_BASE_URL)
  LOG_LEVEL                               fatal, error, warn, info, debug, trace or silent
  TOLLGATE__<key>__<key>=<value>          Any config key, e.g. TOLLGATE__server__bodyLimitBytes=1048576

With the embedded database, stop the server before running migrate or the create commands
(one process at a time); with PostgreSQL they can run beside it.
`

/** Help of each command, by its name. */
export const COMMAND_HELP: Record<string, string> = {
  start: `Usage: tollgate start [--config <path>]

Opens the database, runs pending migrations (unless database.migrate is false), creates a demo
organization, admin user, project and API key when the database has no user yet, and listens.
Ctrl-C or SIGTERM drains in-flight requests and closes; a second signal exits at once.`,
  migrate: `Usage: tollgate migrate [--config <path>]

Runs the pending migrations of core and the enabled plugins, prints their names and exits.`,
  'config print': `Usage: tollgate config print [--config <path>] [--format yaml|json]

Prints the configuration as the server would use it (defaults, file and environment applied),
with secrets masked. Writes nothing (a missing encryption key is reported, not generated).`,
  'user create': `Usage: tollgate user create --email <email> [--name <name>] [--platform-admin] [--json]

Creates a user (with a personal organization).`,
  'org create': `Usage: tollgate org create --name <name> --owner-email <email> [--json]

Creates an organization owned by an existing user.`,
  'project create': `Usage: tollgate project create --org <organization id> --name <name> [--json]

Creates a project in an organization.`,
  'key create': `Usage: tollgate key create --org <organization id> --project <project id> --owner-email <email>
                           --name <name> [--role <role>] [--expires-at <ISO date>] [--app-name <name>] [--json]

Creates an API key owned by an existing member of the organization and prints its secret.
The secret is shown only this once; only its hash is stored.`,
}
