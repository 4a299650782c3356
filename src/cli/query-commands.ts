/**
 * The commands dist/cli/query.cjs may answer. boot.ts reads it to choose that bundle, and
 * query-main.ts keys its modules by it, so the two cannot list different commands. Its own
 * module: boot.cjs is kept small and must not import query-main's.
 */
export const QUERY_COMMANDS = ['runs', 'show', 'log'] as const;

export type QueryCommand = (typeof QUERY_COMMANDS)[number];

export function isQueryCommand(name: string | undefined): name is QueryCommand {
  return (QUERY_COMMANDS as readonly string[]).includes(name ?? '');
}
