-- Bench program for the sqlite workload: inserts into an indexed in-memory table, then queries and deletes.
PRAGMA cache_size = -65536;
CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, body BLOB);
CREATE INDEX item_name ON item (name);
CREATE INDEX item_grp ON item (grp, name);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < (SELECT rows FROM params))
INSERT INTO item (name, grp, body)
SELECT printf('%08x-%d', (i * 2654435761) % 4294967296, i), i % 97, zeroblob(16 + i % 200) FROM n;
SELECT grp, count(*), max(name) FROM item GROUP BY grp ORDER BY 2 DESC LIMIT 3;
DELETE FROM item WHERE id % 3 = 0;
SELECT count(*) FROM item WHERE name LIKE '1%';
