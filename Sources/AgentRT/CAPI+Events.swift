import AgentRTCore
import CAgentRT

private struct CEventSink: @unchecked Sendable {
    let callback: agentrt_event_callback
    let userData: UnsafeMutableRawPointer?
}

@_cdecl("agentrt_subscribe")
public func agentrt_subscribe(_ rt: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ afterSeq: Int64,
                              _ callback: agentrt_event_callback?, _ userData: UnsafeMutableRawPointer?,
                              _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    withRuntime(rt) { e in
        guard let callback, let out, let u = swiftString(user) else { return .invalidArgument }
        if ContextValidation.problem(with: u, field: "user_id") != nil { return .invalidContext }
        let sink = CEventSink(callback: callback, userData: userData)
        let sub = e.runtime.events.subscribe(userID: u, afterSeq: afterSeq < 0 ? nil : UInt64(afterSeq)) { event in
            // The JSON has no NUL inside (control characters are escaped), so the C string is
            // exact; a native Swift string hands it over without a copy.
            let json = event.json
            json.withCString { sink.callback(sink.userData, $0, json.utf8.count) }
        }
        let id = e.lock.withLock { () -> UInt64? in
            if e.closed { return nil }
            let id = e.nextSubscription
            e.nextSubscription += 1
            e.subscriptions[id] = sub
            return id
        }
        guard let id else {
            sub.cancel()   // the runtime was freed while this call ran
            return .staleHandle
        }
        out.pointee = id
        return .ok
    }
}

@_cdecl("agentrt_unsubscribe")
public func agentrt_unsubscribe(_ rt: OpaquePointer?, _ id: UInt64) -> Int32 {
    withRuntime(rt) { e in
        guard let sub = e.lock.withLock({ e.subscriptions.removeValue(forKey: id) }) else { return .notFound }
        sub.cancel()
        return .ok
    }
}
