"""The pure parts of the local ClickHouse HTTP front end: parameters, SQL shapes, errors, body encodings."""

from __future__ import annotations

import base64
import gzip
import zlib

import lz4.frame  # type: ignore[import-untyped]  # ships no stubs
import pytest
import zstandard

from torghut_sim.devstack.chdb_http.errors import ClickHouseError, auth_error, engine_error
from torghut_sim.devstack.chdb_http.formats import body_decoder, content_type
from torghut_sim.devstack.chdb_http.request import Credentials, parse_params, request_credentials
from torghut_sim.devstack.chdb_http.sql import (
    InsertData,
    output_format,
    set_statement,
    split_insert,
    sql_identifier,
    sql_string,
)

# --- URL parameters -------------------------------------------------------------------------------


def test_params_split_into_options_bind_parameters_and_settings() -> None:
    req = parse_params(
        [
            ("database", "torghut"),
            ("default_format", "JSONEachRow"),
            ("query_id", "q1"),
            ("session_id", "s1"),
            ("session_timeout", "120"),
            ("session_check", "1"),
            ("param_sym", "AAPL"),
            ("param_n", "3"),
            ("max_threads", "1"),
            ("date_time_input_format", "best_effort"),
            ("client_protocol_version", "54405"),
            ("query", "SELECT 1"),
        ]
    )
    assert req.database == "torghut"
    assert req.default_format == "JSONEachRow"
    assert req.query_id == "q1"
    assert (req.session_id, req.session_timeout, req.session_check) == ("s1", 120.0, True)
    assert req.params == {"sym": "AAPL", "n": "3"}
    assert req.settings == {"max_threads": "1", "date_time_input_format": "best_effort"}
    assert req.query == "SELECT 1"


def test_http_transport_settings_are_dropped_but_real_ones_kept() -> None:
    req = parse_params(
        [
            ("enable_http_compression", "1"),
            ("send_progress_in_http_headers", "1"),
            ("http_headers_progress_interval_ms", "120000"),
            ("cancel_http_readonly_queries_on_client_close", "1"),
            ("readonly", "2"),
        ]
    )
    assert req.settings == {"readonly": "2"}


def test_defaults_without_parameters() -> None:
    req = parse_params([])
    assert req.default_format == "TabSeparated"
    assert req.database is None and req.session_id is None and req.query is None
    assert req.settings == {} and req.params == {}


@pytest.mark.parametrize(
    ("pairs", "name"),
    [
        ([("max threads; DROP", "1")], "UNKNOWN_SETTING"),
        ([("session_timeout", "soon")], "CANNOT_PARSE_NUMBER"),
        ([("session_timeout", "0")], "ARGUMENT_OUT_OF_BOUND"),
        ([("default_format", "DataFrame")], "UNKNOWN_FORMAT"),
    ],
)
def test_bad_parameters_are_clickhouse_errors(pairs: list[tuple[str, str]], name: str) -> None:
    with pytest.raises(ClickHouseError) as raised:
        parse_params(pairs)
    assert raised.value.name == name


def test_settings_become_one_quoted_set_statement() -> None:
    assert set_statement({"max_threads": "1", "x": "it's \\ ok"}) == (
        "SET max_threads = '1', x = 'it\\'s \\\\ ok'"
    )
    assert sql_string("a'b") == "'a\\'b'"
    assert sql_identifier("we`ird") == "`we\\`ird`"


# --- credentials ------------------------------------------------------------------------------------


def test_credentials_from_headers_basic_auth_or_url() -> None:
    req = parse_params([("user", "u3"), ("password", "p3")])
    assert request_credentials({"x-clickhouse-user": "u1", "x-clickhouse-key": "p1"}, req) == ("u1", "p1")
    basic = "Basic " + base64.b64encode(b"u2:p:2").decode()
    assert request_credentials({"authorization": basic}, req) == ("u2", "p:2")
    assert request_credentials({}, req) == ("u3", "p3")


def test_wrong_or_missing_password_is_refused_with_516() -> None:
    creds = Credentials("torghut", "secret")
    creds.check("torghut", "secret")
    for user, password in (("torghut", "nope"), ("other", "secret"), (None, None)):
        with pytest.raises(ClickHouseError) as raised:
            creds.check(user, password)
        assert (raised.value.code, raised.value.name, raised.value.http_status) == (
            516,
            "AUTHENTICATION_FAILED",
            403,
        )


def test_no_configured_password_accepts_anyone() -> None:
    Credentials().check("anyone", "anything")


# --- SQL shapes ---------------------------------------------------------------------------------------


def test_insert_with_format_splits_head_format_and_data() -> None:
    statement = b"INSERT INTO db.t (`a`, `b`) FORMAT Native\n"
    text = statement + b"\t\x01binary"
    found = split_insert(text)
    assert found == InsertData(head="INSERT INTO db.t (`a`, `b`)", fmt="Native", data_offset=len(statement))
    assert text[found.data_offset :] == b"\t\x01binary"  # data that starts with a blank byte is kept


def test_insert_data_separator_is_blanks_and_one_newline_only() -> None:
    text = b"insert into t format TSV  \r\n\n1\n"
    found = split_insert(text)
    assert found is not None
    assert text[found.data_offset :] == b"\n1\n"


def test_format_inside_strings_comments_and_parentheses_is_ignored() -> None:
    text = (
        b"INSERT INTO FUNCTION file('x FORMAT y', 'CSV') /* FORMAT z */ -- FORMAT w\n"
        b"SETTINGS a = 1 FORMAT CSV\n1,2\n"
    )
    found = split_insert(text)
    assert found is not None
    assert found.fmt == "CSV"
    assert text[found.data_offset :] == b"1,2\n"


@pytest.mark.parametrize(
    "text",
    [
        b"SELECT 1 FORMAT Native",
        b"INSERT INTO t VALUES (1, 'FORMAT x')",
        b"INSERT INTO t SELECT * FROM s",
        b"INSERT INTO t (a) WITH 1 AS x SELECT x",
        b"  CREATE TABLE t (a UInt8) ENGINE = Memory",
    ],
)
def test_statements_without_streamed_data_are_not_split(text: bytes) -> None:
    assert split_insert(text) is None


def test_output_format_is_the_trailing_format_clause_or_default() -> None:
    assert output_format("SELECT 1\n FORMAT Native", "TabSeparated") == "Native"
    assert output_format("SELECT 'FORMAT' AS f", "TabSeparated") == "TabSeparated"
    assert output_format("SELECT 1 format JSON;", "TSV") == "JSON"


def test_content_types_follow_clickhouse() -> None:
    assert content_type("Native") == "application/octet-stream"
    assert content_type("TabSeparatedWithNames").startswith("text/tab-separated-values")
    assert content_type("JSONEachRow").startswith("application/json")
    assert content_type("Pretty").startswith("text/plain")


# --- errors -------------------------------------------------------------------------------------------


def test_engine_error_text_is_parsed_into_code_name_and_message() -> None:
    err = engine_error(
        "Code: 60. DB::Exception: Unknown table expression identifier 'nope'. In scope SELECT * FROM nope. "
        "(UNKNOWN_TABLE)"
    )
    assert (err.code, err.name, err.reason, err.http_status) == (60, "UNKNOWN_TABLE", "unknown_table", 404)
    assert err.message == "Unknown table expression identifier 'nope'. In scope SELECT * FROM nope"
    assert err.body("26.9.2.1") == (
        b"Code: 60. DB::Exception: Unknown table expression identifier 'nope'. In scope SELECT * FROM nope. "
        b"(UNKNOWN_TABLE) (version 26.9.2.1)\n"
    )


def test_nested_and_wrapped_engine_errors_keep_one_code_and_name() -> None:
    err = engine_error(
        "Streaming insert finish failed: Code: 108. DB::Exception: Code: 108. DB::Exception: No data to "
        "insert. (NO_DATA_TO_INSERT) (version 26.9.2.1). (NO_DATA_TO_INSERT)"
    )
    assert (err.code, err.name, err.message) == (108, "NO_DATA_TO_INSERT", "No data to insert")


def test_upper_case_words_in_parentheses_stay_in_the_message() -> None:
    err = engine_error("Code: 62. DB::Exception: Syntax error near (UTC). (SYNTAX_ERROR)")
    assert (err.name, err.message, err.http_status) == ("SYNTAX_ERROR", "Syntax error near (UTC)", 400)


def test_text_without_a_code_is_an_unknown_exception() -> None:
    err = engine_error("segfault-free but odd")
    assert (err.code, err.name, err.http_status) == (1002, "UNKNOWN_EXCEPTION", 500)


def test_auth_error_matches_clickhouse() -> None:
    err = auth_error("torghut")
    assert err.body("1").startswith(b"Code: 516. DB::Exception: torghut: Authentication failed")


# --- request body encodings ---------------------------------------------------------------------------


def _frames(encoding: str, blocks: list[bytes]) -> bytes:
    if encoding == "gzip":
        return b"".join(gzip.compress(b) for b in blocks)
    if encoding == "deflate":
        return zlib.compress(b"".join(blocks))
    if encoding == "zstd":
        return b"".join(zstandard.ZstdCompressor().compress(b) for b in blocks)
    if encoding == "lz4":
        return b"".join(lz4.frame.compress(b) for b in blocks)
    return b"".join(blocks)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "lz4", "identity", None])
def test_bodies_of_several_frames_fed_in_odd_pieces_decode(encoding: str | None) -> None:
    blocks = [b"first block " * 50, b"second", b"third block " * 7]
    raw = _frames(encoding or "identity", blocks)
    decoder = body_decoder(encoding)
    out = b"".join(decoder.feed(raw[i : i + 7]) for i in range(0, len(raw), 7))
    decoder.finish()
    assert out == b"".join(blocks)


def test_truncated_compressed_body_is_an_error() -> None:
    decoder = body_decoder("zstd")
    decoder.feed(zstandard.ZstdCompressor().compress(b"x" * 1000)[:-3])
    with pytest.raises(ClickHouseError) as raised:
        decoder.finish()
    assert raised.value.name == "CANNOT_DECOMPRESS"


def test_unknown_content_encoding_is_refused() -> None:
    with pytest.raises(ClickHouseError) as raised:
        body_decoder("snappy")
    assert raised.value.code == 638
