"""Default routing script of an anysip core: a registrar with digest
authentication for `domain.local`, and a proxy that routes calls to the
registered contacts.

It is written against the SIPhon-compatible API (`from siphon import ...`;
`siphon` is an alias of `anysip`), plus anysip's `request.auth_user`. CANCEL and retransmissions are handled by the core; this script
sees each new request once. Manual: docs/scripting.md.
"""

from siphon import auth, log, proxy, registrar

LOCAL_DOMAINS = {"domain.local"}
REALM = "domain.local"


def is_local(uri):
    return uri is not None and (uri.host or "").lower() in LOCAL_DOMAINS


def one_flow_per_instance(contacts):
    """RFC 5626 §5.3: of one instance's flows (bindings with the same
    `+sip.instance`, each with its `reg-id`) a request takes one, the most
    recently registered (`registrar.lookup` lists it first), and the next
    only when that one fails (430 Flow Failed from an edge that lost the
    flow, 408 when nothing answers). Returns the targets and the fork
    strategy: the instance's flows one after another when all the contacts
    are flows of one instance; otherwise one flow per instance (and every
    contact without flows) at once."""
    flows = {}
    targets = []
    for c in contacts:
        if c.instance is None or c.reg_id is None:
            targets.append(c)
        elif c.instance in flows:
            flows[c.instance].append(c)
        else:
            flows[c.instance] = [c]
            targets.append(c)
    if len(targets) == 1 and targets[0].instance in flows:
        return flows[targets[0].instance], "sequential"
    return targets, "parallel"


@proxy.on_request
def route(request):
    # Requests inside a dialog follow their Route set (Record-Route).
    if request.in_dialog:
        if request.loose_route():
            request.relay()
        elif request.method == "ACK":
            pass  # an ACK without a route is absorbed (no decision: dropped)
        else:
            request.reply(404, "Not Here")
        return

    # OPTIONS to the proxy itself (keepalives, monitoring): answer here.
    if request.method == "OPTIONS" and request.ruri.user is None and is_local(request.ruri):
        request.reply(200)
        return

    if request.method == "REGISTER":
        # The AoR is the To URI: it must be a SIP or SIPS URI (RFC 4475
        # TC_UNKSM2_V).
        if request.to_uri is None or request.to_uri.scheme not in ("sip", "sips"):
            request.reply(400, "To Must Be A SIP URI")
            return
        if not is_local(request.to_uri):
            request.reply(403, "Not A Local Domain")
            return
        if not auth.require_www_digest(request, REALM):
            return  # 401 challenge (or 503 when the user store is down)
        if request.auth_user != request.to_uri.user:
            request.reply(403, "Wrong User")
            return
        registrar.save(request)
        return

    # A new request with a Route set that is not ours (preloaded route).
    if request.loose_route():
        request.record_route()
        request.relay()
        return

    if not is_local(request.ruri):
        request.reply(403, "Relaying Denied")
        return

    contacts = registrar.lookup(f"sip:{request.ruri.user}@{request.ruri.host}")
    if not contacts:
        request.reply(404, "Not Found")
        return
    targets, strategy = one_flow_per_instance(contacts)
    request.record_route()
    if len(targets) == 1:
        request.relay(targets[0])
    else:
        request.fork(targets, strategy=strategy)
    log.debug("routing", request.method, request.ruri, "to", len(targets), "target(s)", strategy)
