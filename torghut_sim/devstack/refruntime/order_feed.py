"""The reference Torghut's order updates, published to the run's trade-updates topic."""

from __future__ import annotations

from typing import Any

import orjson
from confluent_kafka import KafkaError

from torghut_sim.devstack.market_walk import iso_ms

ORDER_FEED_PARTITIONS = 3


def publish_order_events(producer: Any, topic: str, run_id: str, events: list[dict[str, Any]]) -> None:
    """Order updates to the run's trade-updates topic; each event learns its partition and offset."""
    if not events:
        return
    failures: list[KafkaError] = []

    def delivered(item: dict[str, Any]) -> Any:
        def callback(err: KafkaError | None, msg: Any) -> None:
            if err is not None:
                failures.append(err)
            else:
                item["partition"], item["offset"] = msg.partition(), msg.offset()

        return callback

    for item in events:
        event = item["event"]
        value = orjson.dumps(
            {
                "event": event.event_type,
                "execution_id": str(item["execution_id"]),
                "timestamp": iso_ms(event.at_ms),
                "simulation_run_id": run_id,
                "order": {
                    "id": item["order_id"],
                    "client_order_id": item["client_order_id"],
                    "symbol": item["symbol"],
                    "side": item["side"],
                    "qty": event.qty,
                    "filled_qty": event.filled_qty,
                    "filled_avg_price": event.avg_fill_price,
                    "status": event.status,
                    "type": "market",
                },
            },
            option=orjson.OPT_SORT_KEYS,
        )
        producer.produce(
            topic, value, item["symbol"].encode(), timestamp=event.at_ms, on_delivery=delivered(item)
        )
    remaining = producer.flush(30)
    if remaining or failures:
        raise RuntimeError(f"order feed: {len(failures)} failed, {remaining} undelivered")
