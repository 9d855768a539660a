from siphon import proxy, gateway, log

@proxy.on_request
def route(request):
    # In-dialog requests follow the established route set, not the LB.
    if request.in_dialog:
        if request.loose_route():
            request.relay()
        else:
            request.reply(404, "Not Here")
        return

    # Pick a healthy backend. key= gives subscriber affinity: the same AoR
    # always hashes to the same backend (needed if that backend holds the
    # subscriber's registrar binding).
    destination = gateway.select("backends", key=str(request.to_uri))
    if not destination:
        log.error("no healthy backend in 'backends' group")
        request.reply(503, "Service Unavailable")
        return

    log.info(f"LB {request.method} {request.to_uri} -> {destination.uri}")
    request.record_route()
    request.relay(destination.uri)
