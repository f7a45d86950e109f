"""The local ClickHouse is the real engine (chdb) behind a ClickHouse HTTP front end that the production
client, clickhouse-connect, and plain HTTP use unchanged."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from torghut_sim.devstack.clickhouse import PASSWORD, USERNAME, ClickHouseService, start_instance
from torghut_sim.devstack.config import Ports, StackConfig
from torghut_sim.devstack.service import Service

TABLE_DDL = """
CREATE TABLE {db}.ta_microbars
(
    symbol LowCardinality(String),
    event_ts DateTime64(3, 'UTC'),
    seq UInt64,
    ingest_ts DateTime64(3, 'UTC'),
    source LowCardinality(String),
    window_start Nullable(DateTime64(3, 'UTC')),
    c Float64
)
ENGINE = ReplacingMergeTree(ingest_ts)
PARTITION BY toDate(event_ts)
ORDER BY (symbol, event_ts, seq)
TTL toDateTime(event_ts) + INTERVAL 35 DAY
"""

# Runs in its own OS process: the production client inserting rows whose keys overlap the other writer's.
WRITER = """
import datetime as dt, json, os, sys
import clickhouse_connect
client = clickhouse_connect.get_client(
    host="127.0.0.1", port=int(os.environ["CH_PORT"]), username=os.environ["CH_USER"],
    password=os.environ["CH_PASSWORD"],
)
day = dt.datetime.fromisoformat(os.environ["CH_DAY"])
version = day + dt.timedelta(seconds=int(os.environ["CH_VERSION"]))
label = os.environ["CH_LABEL"]
written = 0
for batch in range(10):
    rows = [
        [f"S{seq % 4}", day + dt.timedelta(milliseconds=seq), seq, version, label, None, float(seq)]
        for seq in range(batch * 20, batch * 20 + 20)
    ]
    summary = client.insert(
        os.environ["CH_TABLE"], rows,
        column_names=["symbol", "event_ts", "seq", "ingest_ts", "source", "window_start", "c"],
    )
    written += summary.written_rows
print(json.dumps({"written": written}))
"""


@dataclass(frozen=True)
class Reply:
    """A raw HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _ch(svc: Service) -> ClickHouseService:
    assert isinstance(svc, ClickHouseService)
    return svc


def _post(
    url: str,
    body: bytes | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    password: str = PASSWORD,
    method: str = "POST",
) -> Reply:
    token = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    request = urllib.request.Request(
        f"{url}/{query}",
        data=body,
        method=method,
        headers={"Authorization": f"Basic {token}", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def database(clickhouse_service: Service, unique_name: str) -> Iterator[str]:
    """A database unique to the test, created and dropped over raw HTTP."""
    url = _ch(clickhouse_service).http_url
    created = _post(url, f"CREATE DATABASE {unique_name}".encode())
    assert created.status == 200, created.body
    yield unique_name
    _post(url, f"DROP DATABASE IF EXISTS {unique_name}".encode())


def test_two_processes_insert_concurrently_and_final_dedupes(
    clickhouse_service: Service, database: str
) -> None:
    ch = _ch(clickhouse_service)
    created = _post(ch.http_url, TABLE_DDL.format(db=database).encode())
    assert created.status == 200, created.body
    table = f"{database}.ta_microbars"
    # Merges would deduplicate in the background; stopped, the raw row count is exact.
    assert _post(ch.http_url, f"SYSTEM STOP MERGES {table}".encode()).status == 200
    day = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    env = {
        **os.environ,
        "CH_PORT": str(ch.config.ports.clickhouse),
        "CH_USER": USERNAME,
        "CH_PASSWORD": PASSWORD,
        "CH_TABLE": table,
        "CH_DAY": day.isoformat(),
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER],
            env={**env, "CH_LABEL": label, "CH_VERSION": version},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label, version in (("old", "1"), ("new", "2"))
    ]
    outputs = [writer.communicate(timeout=120) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert json.loads(out) == {"written": 200}

    client = ch.client()
    assert client.query(f"SELECT count() FROM {table}").result_rows == [(400,)]
    final = client.query(f"SELECT source, count(), uniqExact(seq) FROM {table} FINAL GROUP BY source")
    assert final.result_rows == [("new", 200, 200)]  # the higher ingest_ts version wins every key

    first = client.query(f"SELECT symbol, event_ts, ingest_ts, window_start FROM {table} FINAL WHERE seq = 5")
    assert [t.name for t in first.column_types] == [
        "LowCardinality(String)",
        "DateTime64(3, 'UTC')",
        "DateTime64(3, 'UTC')",
        "Nullable(DateTime64(3, 'UTC'))",
    ]
    expected = ("S1", day + dt.timedelta(milliseconds=5), day + dt.timedelta(seconds=2), None)
    assert first.result_rows == [expected]

    ddl = client.command(f"SHOW CREATE TABLE {table}")
    assert "ReplacingMergeTree(ingest_ts)" in ddl
    assert "TTL toDateTime(event_ts) + toIntervalDay(35)" in ddl

    parts = client.query(
        "SELECT count(), sum(rows) FROM system.parts WHERE database = {db:String} AND table = 'ta_microbars' "
        "AND active",
        parameters={"db": database},
    )
    assert parts.result_rows == [(20, 400)]  # one part per insert, merges stopped
    tables = client.query(
        "SELECT engine FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    )
    assert tables.result_rows == [("ReplacingMergeTree",)]
    assert client.query(
        "SELECT count() FROM system.databases WHERE name = {db:String}", parameters={"db": database}
    ).result_rows == [(1,)]


def test_parameters_settings_and_session_database(clickhouse_service: Service, database: str) -> None:
    ch = _ch(clickhouse_service)
    client = ch.client(database=database)
    client.command("CREATE TABLE kv (sym String, n UInt32) ENGINE = MergeTree ORDER BY sym")
    client.insert("kv", [["AAPL", 1], ["MSFT", 2]], column_names=["sym", "n"])
    bound = client.query("SELECT n FROM kv WHERE sym = {sym:String}", parameters={"sym": "MSFT"})
    assert bound.result_rows == [(2,)]
    form = ch.client(database=database, form_encode_query_params=True)  # multipart/form-data request
    in_form = form.query("SELECT n FROM kv WHERE sym IN {syms:Array(String)}", parameters={"syms": ["AAPL"]})
    assert in_form.result_rows == [(1,)]
    # A per-query setting applies to that query only, in a session too.
    scoped = client.query(
        "SELECT value FROM system.settings WHERE name = 'max_threads'", settings={"max_threads": 1}
    )
    assert scoped.result_rows == [("1",)]
    after = client.query("SELECT value FROM system.settings WHERE name = 'max_threads'")
    assert after.result_rows != [("1",)]
    # SQL SET persists for the HTTP session, as in ClickHouse.
    client.command("SET max_threads = 1")
    assert client.query("SELECT getSetting('max_threads')").result_rows == [(1,)]
    override = client.query("SELECT getSetting('max_threads')", settings={"max_threads": 2})
    assert override.result_rows == [(2,)]
    assert client.query("SELECT getSetting('max_threads')").result_rows == [(1,)]
    assert client.query_df("SELECT sym, n FROM kv ORDER BY sym")["n"].tolist() == [1, 2]
    assert client.query_arrow("SELECT sym FROM kv ORDER BY sym").column("sym").to_pylist() == ["AAPL", "MSFT"]


def test_raw_http_inserts_gzip_chunked_and_uncompressed_client(
    clickhouse_service: Service, database: str
) -> None:
    ch = _ch(clickhouse_service)
    table = f"{database}.raw"
    created = _post(ch.http_url, f"CREATE TABLE {table} (a UInt32, s String) ENGINE = Memory".encode())
    assert created.status == 200
    gz = _post(
        ch.http_url,
        gzip.compress(b"1\tone\n2\ttwo\n"),
        params={"query": f"INSERT INTO {table} FORMAT TabSeparated"},
        headers={"Content-Encoding": "gzip"},
    )
    assert gz.status == 200, gz.body
    assert json.loads(gz.headers["X-ClickHouse-Summary"])["written_rows"] == "2"

    def chunks() -> Iterator[bytes]:
        yield f"INSERT INTO {table} FORMAT JSONEachRow\n".encode()
        yield b'{"a": 3, "s": "three"}\n'

    chunked = urllib.request.Request(
        f"{ch.http_url}/",
        data=chunks(),
        method="POST",
        headers={
            "Authorization": "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode(),
            "Transfer-Encoding": "chunked",
        },
    )
    with urllib.request.urlopen(chunked, timeout=60) as response:
        assert response.status == 200
    plain = ch.client(compress=False)  # the INSERT statement travels in the body, before the Native data
    plain.insert(table, [[4, "four"]], column_names=["a", "s"])
    got = _post(ch.http_url, params={"query": f"SELECT a, s FROM {table} ORDER BY a"}, method="GET")
    assert got.status == 200
    assert got.body == b"1\tone\n2\ttwo\n3\tthree\n4\tfour\n"


def test_sql_error_is_a_clickhouse_error(clickhouse_service: Service, unique_name: str) -> None:
    ch = _ch(clickhouse_service)
    with pytest.raises(DatabaseError) as raised:
        ch.client().query(f"SELECT * FROM {unique_name}.missing")
    assert raised.value.code == 81  # UNKNOWN_DATABASE
    assert "UNKNOWN_DATABASE" in str(raised.value)
    raw = _post(ch.http_url, b"SELEC 1")
    assert raw.status == 400
    assert raw.headers["X-ClickHouse-Exception-Code"] == "62"
    assert raw.body.startswith(b"Code: 62. DB::Exception: Syntax error")
    assert _post(ch.http_url, b"SELECT 1", method="POST", params=None).body == b"1\n"
    assert urllib.request.urlopen(f"{ch.http_url}/ping", timeout=10).read() == b"Ok.\n"
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(f"{ch.http_url}/no-such-handler", timeout=10)
    assert unknown.value.code == 404


def test_wrong_password_is_refused(clickhouse_service: Service) -> None:
    ch = _ch(clickhouse_service)
    with pytest.raises(DatabaseError) as raised:
        ch.client(password="not-the-password")
    assert raised.value.code == 516
    raw = _post(ch.http_url, b"SELECT 1", password="not-the-password")
    assert raw.status == 403
    assert raw.headers["X-ClickHouse-Exception-Code"] == "516"
    assert raw.body.startswith(b"Code: 516. DB::Exception: torghut: Authentication failed")


def test_replicated_engines_need_a_keeper_the_local_stack_lacks(
    clickhouse_service: Service, database: str
) -> None:
    raw = _post(
        _ch(clickhouse_service).http_url,
        f"CREATE TABLE {database}.r (a UInt8) ENGINE = ReplicatedReplacingMergeTree('/t/{database}/r', 'r1', "
        "a) ORDER BY a".encode(),
    )
    assert raw.headers["X-ClickHouse-Exception-Code"] == "225", raw.body  # NO_ZOOKEEPER


def test_data_survives_devstack_down_and_up(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "TORGHUT_DEVSTACK_STATE": str(tmp_path / "state"),
        "TORGHUT_DEVSTACK_CLICKHOUSE_PORT": str(port),
    }
    svc = ClickHouseService(StackConfig(state_dir=tmp_path / "state", ports=Ports(clickhouse=port)))

    def devstack(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "torghut_sim.devstack.cli", *args, "clickhouse"],
            env=env,
            check=True,
            timeout=120,
            capture_output=True,
        )

    devstack("up")
    try:
        client = svc.client()
        client.command("CREATE DATABASE keep")
        client.command("CREATE TABLE keep.t (a UInt32) ENGINE = ReplacingMergeTree ORDER BY a")
        client.insert("keep.t", [[1], [2], [3]], column_names=["a"])
        devstack("down")
        assert not svc.instance.running()
        assert not svc.healthy()
        devstack("up")
        assert svc.client().query("SELECT sum(a) FROM keep.t").result_rows == [(6,)]
    finally:
        devstack("down")


def test_extra_instance_is_a_separate_server(
    clickhouse_service: Service, tmp_path: Path, database: str
) -> None:
    replica = start_instance(_free_port(), tmp_path / "replica")
    try:
        assert replica.http_url != _ch(clickhouse_service).http_url
        client = replica.client()
        assert client.query(
            "SELECT count() FROM system.databases WHERE name = {db:String}", parameters={"db": database}
        ).result_rows == [(0,)]
        client.command("CREATE TABLE default.only_here (a UInt8) ENGINE = Memory")
        here = client.query("SELECT count() FROM system.tables WHERE name = 'only_here'")
        assert here.result_rows == [(1,)]
    finally:
        assert replica.stop()
    assert not replica.healthy()


def test_unknown_setting_and_database_fail_and_leave_the_session_intact(clickhouse_service: Service) -> None:
    ch = _ch(clickhouse_service)
    session = {"session_id": f"s-{os.getpid()}-{id(ch)}"}
    for params, code in (({"no_such_setting": "1"}, "115"), ({"database": "no_such_database_x"}, "81")):
        failed = _post(ch.http_url, b"SELECT 1", params={**session, **params})
        assert failed.headers["X-ClickHouse-Exception-Code"] == code
    ok = _post(ch.http_url, b"SELECT currentDatabase(), getSetting('max_threads') > 0", params=session)
    assert ok.body == b"default\t1\n"
