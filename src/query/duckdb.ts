/**
 * DuckDB is an optional dependency: only `git flor sql` and Parquet output load it, so every other
 * command starts without it and an install without it works.
 */
import { FlorError } from '../errors.js';

export type DuckDB = typeof import('@duckdb/node-api');

let loaded: Promise<DuckDB> | undefined;

/** The `@duckdb/node-api` module, or DUCKDB_MISSING (exit 2) saying how to install it. */
export function loadDuckDB(): Promise<DuckDB> {
  loaded ??= import('@duckdb/node-api').catch((e: unknown) => {
    loaded = undefined;
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw e;
    throw new FlorError('DUCKDB_MISSING', 'DuckDB is not installed (needed for `git flor sql` and Parquet output)', {
      hint: 'install it next to git-flor: `npm install @duckdb/node-api` (an optional dependency of git-flor)',
      cause: e,
    });
  });
  return loaded;
}

/** A SQL identifier, quoted: column names come from users' logged names and args. */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** A SQL string literal. */
export function quoteString(s: string): string {
  return "'" + s.replace(/'/g, "''") + "'";
}

export type ColumnType = 'DOUBLE' | 'BIGINT' | 'VARCHAR' | 'BOOLEAN' | 'JSON' | 'TIMESTAMP';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
}

/** Rows to load, read cell by cell (a Table's columns or an array of objects). */
export interface CellSource {
  length: number;
  cell(row: number, col: number): unknown;
}

type Connection = Awaited<ReturnType<Awaited<ReturnType<DuckDB['DuckDBInstance']['create']>>['connect']>>;

/** An in-memory database for one command or one API handle. */
export async function memoryDb(): Promise<{ duck: DuckDB; con: Connection; close(): void }> {
  const duck = await loadDuckDB();
  const db = await duck.DuckDBInstance.create(':memory:');
  const con = await db.connect();
  return {
    duck,
    con,
    close() {
      con.closeSync();
      db.closeSync();
    },
  };
}

function bad(spec: ColumnSpec, v: unknown): FlorError {
  return new FlorError('BAD_COLUMN_VALUE', `column ${spec.name} (${spec.type}) cannot hold ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
}

/** JSON text of a value that may hold bigints and typed arrays (stored as numbers, or strings past 2^53). */
function jsonText(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (typeof x === 'bigint') return Number.isSafeInteger(Number(x)) ? Number(x) : x.toString();
    if (ArrayBuffer.isView(x) && !(x instanceof DataView)) return Array.from(x as unknown as ArrayLike<number | bigint>, (y) => (typeof y === 'bigint' ? (Number.isSafeInteger(Number(y)) ? Number(y) : y.toString()) : y));
    return x;
  });
}

/** Creates table `name` with these columns and appends every row of `src`. */
export async function loadTable(duck: DuckDB, con: Connection, name: string, columns: ColumnSpec[], src: CellSource): Promise<void> {
  await con.run(`CREATE TABLE ${quoteIdent(name)} (${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`);
  if (src.length === 0) return;
  const ap = await con.createAppender(name);
  const C = columns.length;
  for (let i = 0; i < src.length; i++) {
    for (let c = 0; c < C; c++) {
      const spec = columns[c]!;
      const v = src.cell(i, c);
      if (v === null || v === undefined) {
        ap.appendNull();
        continue;
      }
      switch (spec.type) {
        case 'DOUBLE':
          if (typeof v === 'number') ap.appendDouble(v);
          else if (typeof v === 'bigint') ap.appendDouble(Number(v));
          else throw bad(spec, v);
          break;
        case 'BIGINT':
          if ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint') ap.appendBigInt(BigInt(v));
          else throw bad(spec, v);
          break;
        case 'BOOLEAN':
          if (typeof v !== 'boolean') throw bad(spec, v);
          ap.appendBoolean(v);
          break;
        case 'VARCHAR':
          ap.appendVarchar(typeof v === 'string' ? v : jsonText(v));
          break;
        case 'JSON':
          ap.appendVarchar(jsonText(v));
          break;
        case 'TIMESTAMP': {
          const ms = typeof v === 'number' ? v : v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
          if (!Number.isFinite(ms)) throw bad(spec, v);
          ap.appendTimestamp(new duck.DuckDBTimestampValue(BigInt(Math.round(ms)) * 1000n));
          break;
        }
      }
    }
    ap.endRow();
  }
  ap.closeSync();
}
