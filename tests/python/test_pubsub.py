"""Pub/Sub through redis-py's PubSub API against the built cinnabar-server
(the `server` fixture is in conftest.py)."""

import time

import redis


def next_message(pubsub, timeout=5.0):
    """The next message (subscribe confirmations included, unless ignored)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            return message
    raise AssertionError("no message")


def test_subscribe_publish_unsubscribe(server):
    client = redis.Redis(port=server)
    pubsub = client.pubsub()
    pubsub.subscribe("news", "sport")
    assert next_message(pubsub) == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert next_message(pubsub)["data"] == 2
    assert client.publish("news", "hello") == 1
    assert next_message(pubsub) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert client.pubsub_numsub("news", "sport", "none") == [(b"news", 1), (b"sport", 1), (b"none", 0)]
    assert sorted(client.pubsub_channels()) == [b"news", b"sport"]
    pubsub.unsubscribe("news")
    assert next_message(pubsub) == {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 1}
    assert client.publish("news", "lost") == 0
    pubsub.close()


def test_patterns_and_handlers(server):
    client = redis.Redis(port=server, decode_responses=True)
    received = []
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe(**{"user.*": received.append})
    assert client.pubsub_numpat() == 1
    thread = pubsub.run_in_thread(sleep_time=0.01)
    try:
        assert client.publish("user.42", "joined") == 1
        assert client.publish("other", "ignored") == 0
        deadline = time.time() + 5
        while not received and time.time() < deadline:
            time.sleep(0.01)
    finally:
        thread.stop()
        thread.join()
    assert received == [{"type": "pmessage", "pattern": "user.*", "channel": "user.42", "data": "joined"}]


def test_shard_channels(server):
    client = redis.Redis(port=server)
    pubsub = client.pubsub()
    pubsub.ssubscribe("orders")
    assert next_message(pubsub)["type"] == "ssubscribe"
    assert client.execute_command("SPUBLISH", "orders", "o1") == 1
    assert client.publish("orders", "not-shard") == 0
    message = pubsub.get_sharded_message(timeout=5)
    assert message["type"] == "smessage" and message["data"] == b"o1"
    assert client.execute_command("PUBSUB", "SHARDNUMSUB", "orders") == [b"orders", 1]
    pubsub.close()


def test_resp3_pushes(server):
    client = redis.Redis(port=server, protocol=3)
    pubsub = client.pubsub()
    pubsub.subscribe("events")
    assert next_message(pubsub)["type"] == "subscribe"
    redis.Redis(port=server).publish("events", "e1")
    assert next_message(pubsub)["data"] == b"e1"
    pubsub.close()


def test_keyspace_notifications(server):
    client = redis.Redis(port=server, decode_responses=True)
    client.config_set("notify-keyspace-events", "KEA")
    assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
    pubsub = client.pubsub()
    pubsub.psubscribe("__keyevent@0__:*")
    assert next_message(pubsub)["type"] == "psubscribe"
    client.set("k", "v", px=50)
    client.lpush("l", "a")
    events = [(m["channel"], m["data"]) for m in (next_message(pubsub) for _ in range(3))]
    assert events == [("__keyevent@0__:set", "k"), ("__keyevent@0__:expire", "k"), ("__keyevent@0__:lpush", "l")]
    assert next_message(pubsub) == {
        "type": "pmessage", "pattern": "__keyevent@0__:*", "channel": "__keyevent@0__:expired", "data": "k"}
    pubsub.close()
