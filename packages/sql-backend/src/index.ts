export { DEFAULTS } from './DEFAULTS.ts';
export {
  BackendUnavailableError,
  DatabaseEncodingError,
  SchemaTooNewError,
  SqlCommandError,
  SqlRowDecodeError,
  SqlTimeoutError,
  SqlValueError,
} from './errors.ts';
export { SqlBackend, type SqlBackendOptions, type SqlBackendStatus } from './SqlBackend.ts';
export {
  SqlClient,
  type SqlClientOptions,
  type SqlQueryable,
  type SqlRow,
  type SqlValue,
} from './SqlClient.ts';
export {
  checkEncoding,
  type Migration,
  type MigrationResult,
  migrate,
  quoteSchema,
  type SchemaComponent,
  SM_SCHEMA,
  USERS_SCHEMA,
} from './schema.ts';
export { decodeSmRow, encodeSmRow, type SmRow, type SmRowValues, sidPid, sidUsec } from './smRow.ts';
export { type SmStatements, smStatements } from './smStatements.ts';
