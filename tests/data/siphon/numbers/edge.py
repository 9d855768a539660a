from siphon import proxy

@proxy.on_request("INVITE")
def route(request):
    # Whatever shape the trunk sent (00…, 0X, bare), make it +E.164
    # before it hits the IMS core.
    request.rewrite_identities("ims-e164@2026")
    request.relay()
