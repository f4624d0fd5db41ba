"""An ActivityPub peer built on bovine (https://bovine.readthedocs.io), for the
Rust tests of `fedi check`: an actor, WebFinger, NodeInfo, an inbox whose
HTTP signatures bovine verifies, and an Accept (signed by bovine) for every
Follow. One deleted object answers 410 with a Tombstone.

Runs on loopback on a port the OS picks, keeps everything in memory, and
prints JSON lines on stdout: a `ready` line first, then one line per inbox
POST. See README.md.
"""

import argparse
import asyncio
import json
import logging
import secrets
import socket
import sys
from urllib.parse import urldefrag

from aiohttp import web

from bovine import BovineActor
from bovine.activitystreams import Actor
from bovine.crypto import build_validate_http_signature_raw, generate_rsa_public_private_key
from bovine.crypto.types import CryptographicIdentifier
from bovine.utils import webfinger_response_json

NAME = "cow"


def emit(event):
    print(json.dumps(event), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, 0))
    port = sock.getsockname()[1]
    base = f"http://{args.host}:{port}"
    asyncio.run(serve(sock, base, f"{args.host}:{port}"))


async def serve(sock, base, authority):
    actor_id = f"{base}/actor"
    public_key, private_key = generate_rsa_public_private_key()
    actor_object = Actor(
        id=actor_id,
        type="Person",
        preferred_username=NAME,
        name="A bovine peer",
        inbox=f"{base}/inbox",
        outbox=f"{base}/outbox",
        followers=f"{base}/followers",
        following=f"{base}/following",
        public_key=public_key,
        public_key_name="main-key",
    ).build()
    actor = BovineActor(
        actor_id=actor_id, public_key_url=f"{actor_id}#main-key", secret=private_key
    )
    await actor.init()
    deleted = f"{base}/objects/deleted"
    sent = {}

    async def key_retriever(key_id):
        document = await actor.get(urldefrag(key_id).url)
        public = document.get("publicKey")
        if isinstance(public, dict) and public.get("id") == key_id:
            return CryptographicIdentifier.from_public_key(public)
        methods = document.get("assertionMethod", [])
        if isinstance(methods, dict):
            methods = [methods]
        for method in methods:
            if isinstance(method, dict) and method.get("id") == key_id:
                return CryptographicIdentifier.from_multikey(method)
        return None

    validate = build_validate_http_signature_raw(key_retriever)

    def activity_json(document, status=200):
        return web.json_response(
            document, status=status, content_type="application/activity+json"
        )

    async def webfinger(request):
        resource = request.query.get("resource", "")
        if resource not in (f"acct:{NAME}@{authority}", actor_id):
            return web.Response(status=404, headers={"access-control-allow-origin": "*"})
        return web.json_response(
            webfinger_response_json(f"acct:{NAME}@{authority}", actor_id),
            content_type="application/jrd+json",
            headers={"access-control-allow-origin": "*"},
        )

    async def nodeinfo_discovery(request):
        return web.json_response(
            {
                "links": [
                    {
                        "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                        "href": f"{base}/nodeinfo/2.0",
                    }
                ]
            }
        )

    async def nodeinfo(request):
        return web.json_response(
            {
                "version": "2.0",
                "software": {"name": "bovine-peer", "version": "0.5.19"},
                "protocols": ["activitypub"],
                "services": {"inbound": [], "outbound": []},
                "openRegistrations": False,
                "usage": {"users": {"total": 1}, "localPosts": 0},
                "metadata": {},
            }
        )

    async def get_actor(request):
        return activity_json(actor_object)

    async def collection(request):
        name = request.match_info["name"]
        return activity_json(
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{base}/{name}",
                "type": "OrderedCollection",
                "totalItems": 0,
                "orderedItems": [],
            }
        )

    async def get_deleted(request):
        return activity_json(
            {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": deleted,
                "type": "Tombstone",
                "formerType": "Note",
            },
            status=410,
        )

    async def get_sent(request):
        document = sent.get(str(request.url))
        if document is None:
            return web.Response(status=404)
        return activity_json(document)

    async def inbox(request):
        body = await request.read()

        async def get_body():
            return body

        url = f"{base}{request.path_qs}"
        owner = await validate(request.method, url, request.headers, get_body)
        try:
            activity = json.loads(body)
        except ValueError:
            activity = {}
        event = {
            "event": "inbox",
            "type": activity.get("type"),
            "id": activity.get("id"),
            "actor": activity.get("actor"),
            "signed_by": owner,
            "spec": "rfc9421" if "signature-input" in request.headers else "cavage",
        }
        if owner is None:
            emit({**event, "status": 401})
            return web.Response(status=401, text="the HTTP signature does not verify")
        if activity.get("actor") != owner:
            emit({**event, "status": 401})
            return web.Response(status=401, text="the key is not the actor's")
        emit({**event, "status": 202})
        if activity.get("type") == "Follow":
            asyncio.get_running_loop().create_task(accept(activity))
        return web.Response(status=202)

    async def accept(follow):
        try:
            follower = await actor.get(follow["actor"])
            accept = {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{base}/activities/{secrets.token_urlsafe(8)}",
                "type": "Accept",
                "actor": actor_id,
                "to": [follow["actor"]],
                "object": follow,
            }
            sent[accept["id"]] = accept
            response = await actor.post(follower["inbox"], accept)
            emit({"event": "sent", "type": "Accept", "status": response.status})
        except Exception as error:  # reported, never fatal
            emit({"event": "sent", "type": "Accept", "error": str(error)})

    app = web.Application()
    app.router.add_get("/.well-known/webfinger", webfinger)
    app.router.add_get("/.well-known/nodeinfo", nodeinfo_discovery)
    app.router.add_get("/nodeinfo/2.0", nodeinfo)
    app.router.add_get("/actor", get_actor)
    app.router.add_get("/objects/deleted", get_deleted)
    app.router.add_get("/activities/{id}", get_sent)
    app.router.add_get("/{name:outbox|followers|following}", collection)
    app.router.add_post("/inbox", inbox)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    emit({"event": "ready", "actor": actor_id, "deleted": deleted, "base": base})
    # Until stdin closes.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    main()
