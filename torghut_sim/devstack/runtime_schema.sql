-- The simulation tables of the Torghut runtime (CONTRACTS §6): the local stand-in for its alembic
-- migrations. Idempotent: every statement may run again on an already migrated database.

CREATE TABLE IF NOT EXISTS trade_decisions (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    strategy_id          text NOT NULL,
    alpaca_account_label text NOT NULL DEFAULT 'paper',
    symbol               text NOT NULL,
    timeframe            text NOT NULL DEFAULT '1Sec',
    decision_json        jsonb NOT NULL DEFAULT '{}'::jsonb,
    status               text NOT NULL DEFAULT 'planned',
    created_at           timestamptz NOT NULL DEFAULT now(),
    executed_at          timestamptz
);
CREATE INDEX IF NOT EXISTS trade_decisions_created_at_idx ON trade_decisions (created_at);
CREATE INDEX IF NOT EXISTS trade_decisions_sim_run_idx
    ON trade_decisions ((decision_json -> 'params' -> 'simulation_context' ->> 'simulation_run_id'));

CREATE TABLE IF NOT EXISTS executions (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trade_decision_id          uuid REFERENCES trade_decisions (id) ON DELETE CASCADE,
    alpaca_order_id            text,
    client_order_id            text,
    symbol                     text NOT NULL,
    side                       text NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type                 text NOT NULL DEFAULT 'market',
    time_in_force              text NOT NULL DEFAULT 'day',
    submitted_qty              numeric NOT NULL,
    filled_qty                 numeric NOT NULL DEFAULT 0,
    avg_fill_price             numeric,
    status                     text NOT NULL DEFAULT 'new',
    created_at                 timestamptz NOT NULL DEFAULT now(),
    last_update_at             timestamptz NOT NULL DEFAULT now(),
    order_feed_last_event_ts   timestamptz,
    execution_expected_adapter text,
    execution_actual_adapter   text,
    execution_fallback_reason  text,
    execution_fallback_count   integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS executions_trade_decision_idx ON executions (trade_decision_id);
CREATE UNIQUE INDEX IF NOT EXISTS executions_client_order_id_key ON executions (client_order_id);

CREATE TABLE IF NOT EXISTS execution_order_events (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    execution_id      uuid REFERENCES executions (id) ON DELETE CASCADE,
    trade_decision_id uuid REFERENCES trade_decisions (id) ON DELETE CASCADE,
    source_topic      text NOT NULL,
    source_partition  integer NOT NULL,
    source_offset     bigint NOT NULL,
    event_ts          timestamptz,
    symbol            text,
    event_type        text,
    status            text,
    qty               numeric,
    filled_qty        numeric,
    avg_fill_price    numeric,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_topic, source_partition, source_offset)
);
CREATE INDEX IF NOT EXISTS execution_order_events_execution_idx ON execution_order_events (execution_id);

CREATE TABLE IF NOT EXISTS execution_tca_metrics (
    execution_id           uuid PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
    trade_decision_id      uuid REFERENCES trade_decisions (id) ON DELETE CASCADE,
    strategy_id            text,
    symbol                 text NOT NULL,
    side                   text NOT NULL CHECK (side IN ('buy', 'sell')),
    filled_qty             numeric,
    avg_fill_price         numeric,
    arrival_price          numeric,
    shortfall_notional     numeric,
    slippage_bps           numeric,
    realized_shortfall_bps numeric,
    divergence_bps         numeric,
    computed_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS llm_decision_reviews (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trade_decision_id uuid REFERENCES trade_decisions (id) ON DELETE CASCADE,
    model             text NOT NULL,
    prompt_version    text NOT NULL,
    verdict           text NOT NULL
        CHECK (verdict IN ('approve', 'veto', 'adjust', 'abstain', 'escalate', 'error')),
    confidence        numeric,
    tokens_prompt     integer,
    tokens_completion integer,
    risk_flags        jsonb NOT NULL DEFAULT '[]'::jsonb,
    response_json     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS llm_decision_reviews_decision_idx ON llm_decision_reviews (trade_decision_id);

CREATE TABLE IF NOT EXISTS trade_cursor (
    source        text NOT NULL,
    account_label text NOT NULL,
    cursor_at     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, account_label)
);

CREATE TABLE IF NOT EXISTS simulation_run_progress (
    run_id                 text NOT NULL,
    component              text NOT NULL CHECK (component IN ('replay', 'ta', 'torghut', 'artifacts')),
    status                 text NOT NULL,
    last_source_ts         timestamptz,
    last_signal_ts         timestamptz,
    cursor_at              timestamptz,
    records_dumped         bigint,
    records_replayed       bigint,
    trade_decisions        bigint,
    executions             bigint,
    execution_tca_metrics  bigint,
    execution_order_events bigint,
    last_error             text,
    payload_json           jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, component)
);
