"""Local stack only: a ClickHouse-compatible HTTP front end over the embedded ClickHouse engine (chdb).

No ClickHouse server binary is installable here, so the local stack serves the real engine from the
`chdb` wheel behind the subset of ClickHouse's HTTP interface that `clickhouse-connect` and plain HTTP
clients use: queries and DDL by GET/POST, inserts with a data body (any engine input format, Native
included, optionally gzip/deflate/zstd/lz4 encoded, chunked or not), `param_<name>` bind parameters,
settings as URL parameters, `database`/`default_format`/`query_id`, HTTP sessions (`session_id`),
user/password checks, `/ping`, and errors as `Code: N. DB::Exception: ...` with the
`X-ClickHouse-Exception-Code` header. Production never runs this package: it talks to a real cluster.

Responses are never compressed (clients read a missing Content-Encoding as identity) and results are
materialised before they are sent, so the engine lock is never held while a slow client reads.

By concern: `errors` (codes, names, HTTP statuses), `request` (URL/form parameters, credentials), `sql`
(quoting, SET, where an INSERT's data starts), `formats` (result content types, body encodings), `engine`
(chdb connections and HTTP sessions), `server` (the HTTP handler) and `__main__` (the command line).

Run: `python -m torghut_sim.devstack.chdb_http --host 127.0.0.1 --port N --path DIR [--user U
--password P | --password-env VAR]`.
"""
