// Opens a logscan dataset with DuckDB, an independent Parquet reader, and
// runs the README's example queries. Usage: node check.mjs DATASET_DIR
import { DuckDBInstance } from '@duckdb/node-api';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node check.mjs DATASET_DIR');
  process.exit(2);
}
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const q = async (title, sql) => {
  const r = await con.runAndReadAll(sql);
  console.log(`-- ${title}`);
  console.log(r.columnNames().join('\t'));
  for (const row of r.getRows()) console.log(row.map(String).join('\t'));
};
const rows = `read_parquet('${dir}/rows/**/*.parquet', hive_partitioning = false)`;
const sessions = `read_parquet('${dir}/sessions/**/*.parquet', hive_partitioning = true, union_by_name = true)`;
await q('rows per server and log type', `
  SELECT server, log_type, count(*) AS rows, min(date_time) AS first, max(date_time) AS last
  FROM ${rows} GROUP BY ALL ORDER BY ALL`);
await q('top relaying sources: anonymous sessions with accepted outside recipients', `
  SELECT server, connector_id, client_ip, count(DISTINCT session_id) AS sessions,
         count(*) AS recipients, count(DISTINCT r.domain) AS domains
  FROM ${sessions}, UNNEST(messages) AS m(msg), UNNEST(msg.recipients) AS t(r)
  WHERE auth = 'none' AND NOT proxied AND permissions LIKE '%SMTPAcceptAnyRecipient%'
    AND r.code BETWEEN 200 AND 299 AND r.domain NOT IN ('contoso.com', 'contoso.co.uk')
  GROUP BY ALL ORDER BY recipients DESC LIMIT 5`);
await q('sessions per remote IP per connector (top 5)', `
  SELECT server, connector_id, remote_ip, count(*) AS sessions
  FROM ${sessions} WHERE log_type = 'receive'
  GROUP BY ALL ORDER BY sessions DESC LIMIT 5`);
