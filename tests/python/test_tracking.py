"""Client-side caching as a redis-py user sets it up: a RESP2 connection
subscribed to __redis__:invalidate receives the invalidations of a tracking
connection that redirects to it (the `server` fixture is in conftest.py)."""

import time

import redis


def invalidations(pubsub, count, timeout=5.0):
    """The next `count` invalidation messages' data (key lists or None)."""
    found = []
    deadline = time.time() + timeout
    while len(found) < count and time.time() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            assert message["channel"] == b"__redis__:invalidate"
            found.append(message["data"])
    assert len(found) == count, found
    return found


def redirect_target(client):
    """A pubsub connection listening to invalidations, and its client id."""
    pubsub = client.pubsub()
    pubsub.subscribe("__redis__:invalidate")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    subscribed = [c for c in client.client_list() if "P" in c["flags"]]
    return pubsub, int(subscribed[0]["id"])


def test_redirected_invalidations(server):
    client = redis.Redis(port=server)
    pubsub, sink = redirect_target(client)
    tracker = redis.Redis(port=server, single_connection_client=True)
    assert tracker.client_tracking_on(clientid=sink)
    assert tracker.client_getredir() == sink
    info = tracker.client_trackinginfo()
    assert (info[1], info[3], info[5]) == ([b"on"], sink, [])
    client.set("user:3", "cid")
    tracker.get("user:1")
    tracker.mget("user:2", "user:3")
    assert client.info()["tracking_total_keys"] == 3
    client.set("user:1", "ann")
    client.delete("user:3")
    assert invalidations(pubsub, 2) == [[b"user:1"], [b"user:3"]]
    # Invalidated keys are forgotten until read again.
    client.set("user:1", "bob")
    tracker.get("user:2")
    client.flushall()
    assert invalidations(pubsub, 1) == [None]
    assert client.info()["tracking_total_keys"] == 0
    pubsub.close()


def test_broadcast_prefixes(server):
    client = redis.Redis(port=server)
    pubsub, sink = redirect_target(client)
    tracker = redis.Redis(port=server, single_connection_client=True)
    assert tracker.client_tracking_on(clientid=sink, bcast=True, prefix=["cart:", "price:"])
    assert client.info()["tracking_total_prefixes"] == 2
    client.mset({"cart:2": "x", "cart:1": "y", "other": "z"})
    assert invalidations(pubsub, 1) == [[b"cart:1", b"cart:2"]]
    client.incr("price:9")
    assert invalidations(pubsub, 1) == [[b"price:9"]]
    assert tracker.client_tracking_off()
    assert client.info()["tracking_clients"] == 0
    pubsub.close()
