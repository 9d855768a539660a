//! The flow a message arrived on, as a token payload.

use sip::Flow;

/// The flow token payload of the flow `arrival`: for a stream it names this
/// instance and the connection; for UDP neither (any instance can send).
pub fn flow_token(arrival: &Flow, instance: u16) -> tokencodec::Flow {
    let stream = arrival.transport.is_stream();
    tokencodec::Flow {
        transport: arrival.transport,
        ue: arrival.remote,
        local: arrival.local,
        instance: if stream { instance } else { 0 },
        connection: if stream { arrival.connection } else { 0 },
    }
}
