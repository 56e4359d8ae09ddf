import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOHTTP1

/// Gives a refused WebSocket upgrade its real answer. hummingbird-websocket answers every
/// upgrade its router refuses with a bare `400` (it drops the router's error), so a client
/// without a token would see 400 where the API promises 401 (and 503 while draining).
///
/// `RefusedUpgradeMiddleware` installs one of these on the connection when the upgrade router
/// refuses; the refused connection's 400 then passes through it on its way to the HTTP encoder,
/// and it writes the refusal's status, headers and JSON error body instead. An upgrade refused
/// for another reason (a malformed handshake) installs nothing and keeps the 400.
final class UpgradeRefusalHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// The refused response's head is still to come.
        case waiting
        /// The head was replaced; the refused response's own (empty) body is dropped until its end.
        case replacing
        /// Done: everything passes.
        case passing
    }

    private var state: State = .waiting
    private let refusal: APIError

    init(_ refusal: APIError) {
        self.refusal = refusal
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch (state, Self.unwrapOutboundIn(data)) {
        case (.waiting, .head(let head)) where head.status == .badRequest:
            state = .replacing
            let body = ByteBuffer(string: refusal.body)
            var headers = HTTPHeaders()
            for field in refusal.extraHeaders { headers.add(name: field.name.rawName, value: field.value) }
            if let retryAfter = refusal.retryAfter { headers.add(name: "Retry-After", value: String(retryAfter)) }
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Cache-Control", value: "no-store")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            headers.add(name: "Connection", value: "close")
            let status = HTTPResponseStatus(statusCode: Int(refusal.status.code))
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                          promise: promise)
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        case (.waiting, .head):
            state = .passing
            context.write(data, promise: promise)
        case (.replacing, .end):
            state = .passing
            context.write(data, promise: promise)
        case (.replacing, _):
            promise?.succeed()
        case (.waiting, _), (.passing, _):
            context.write(data, promise: promise)
        }
    }
}

/// The request context of the upgrade router: the basic WebSocket context plus the connection,
/// so that a refusal can install `UpgradeRefusalHandler` on it.
struct UpgradeRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        webSocket = WebSocketHandlerReference()
        channel = source.channel
    }
}

/// Outermost middleware of the upgrade router: an upgrade refused with an `APIError` (inner
/// middleware turns Hummingbird's own errors into those) gets `UpgradeRefusalHandler` on its
/// connection before the refusal reaches hummingbird-websocket.
struct RefusedUpgradeMiddleware: RouterMiddleware {
    typealias Context = UpgradeRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            let channel = context.channel
            // On the event loop, and awaited: the handler is in place before the 400 is written.
            try? await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(UpgradeRefusalHandler(e))
            }.get()
            throw e
        }
    }
}
