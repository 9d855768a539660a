"""Front load balancer: new requests go to one of the `backends` gateway
group, chosen by the To AoR (so one user's requests land on the same core
while it is healthy); requests inside a dialog follow their Route set.

SIPhon-compatible: runs unchanged with `from siphon import ...`.
Manual: docs/scripting.md.
"""

from siphon import gateway, log, proxy


@proxy.on_request
def route(request):
    if request.in_dialog:
        if request.loose_route():
            request.relay()
        elif request.method != "ACK":
            request.reply(404, "Not Here")
        return

    backend = gateway.select("backends", key=str(request.to_uri))
    if not backend:
        log.warn("no healthy backend for", request.method, request.ruri)
        request.reply(503, "No Backend Available")
        return
    request.record_route()
    # The destination object, not just its URI: its configured address
    # (when given) overrides resolving the URI.
    request.relay(backend)
