import AgentRTCore
import Hummingbird

/// `POST /v1/runs`, `GET /v1/runs/{id}`, `POST /v1/runs/{id}/cancel`: runs of the caller's own
/// user only. Another user's run is answered exactly like a run that does not exist (404).
struct RunsAPI: Sendable {
    let runtime: Runtime
    let state: ServerState
    let auth: Authenticator
    let configuration: ServerConfiguration
    let metrics: ServerMetrics

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/v1/runs") { request, _ in try await create(request) }
        router.get("/v1/runs/{id}") { request, context in try show(request, runID: try context.parameters.require("id")) }
        router.post("/v1/runs/{id}/cancel") { request, context in try cancel(request, runID: try context.parameters.require("id")) }
    }

    func create(_ request: Request) async throws -> Response {
        let who = try auth.principal(request)
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: configuration.maxBodyBytes) } catch let e as any HTTPResponseError where e.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "body_too_large",
                           "the request body is larger than the server accepts (\(configuration.maxBodyBytes) bytes)")
        }
        let body = try RunRequestBody(json: String(buffer: buffer), maxTimeout: configuration.maxRunTimeout)
        let r = body.runRequest(userID: who.userID)
        let started = try await Self.start(r, wait: body.wait, runtime: runtime, state: state, metrics: metrics)
        switch started {
        case .refused(let e):
            throw APIError.refusal(e)
        case .accepted(let runID):
            var w = JSONObjectWriter()
            w.string("run_id", runID)
            return JSONResponse.make(.accepted, w.finish(), headers: [.location: "/v1/runs/\(runID)"])
        case .finished(let result):
            return JSONResponse.make(.ok, RunJSON.outcome(runID: result.runID, result.outcome))
        }
    }

    enum Started: Sendable {
        case accepted(runID: String)
        case refused(AgentRTError)
        case finished(RunResult)
    }

    /// Starts `r` (tracked for shutdown). Without `wait`, returns once the run is admitted;
    /// with it, once the run ended.
    static func start(_ r: RunRequest, wait: Bool, runtime: Runtime, state: ServerState,
                      metrics: ServerMetrics) async throws(APIError) -> Started {
        guard let runID = r.runID, state.beginRun(runID, userID: r.userID) else { throw APIError.draining }
        @Sendable func ended(_ result: RunResult) {
            // Only loaded agents become label values (a client-chosen name must not add series).
            let agent = result.error?.code == .notFound && !result.started ? "(unknown)" : "\(r.plugin).\(r.agent)"
            metrics.runEnded(agent: agent, outcome: result.error?.code.rawValue ?? "ok", duration: result.duration,
                             started: result.started)
            state.endRun(runID)
        }
        if wait {
            let result = await runtime.run(r)
            ended(result)
            if !result.started, let e = result.error { return .refused(e) }
            return .finished(result)
        }
        let refusal = Locked<AgentRTError?>(nil)
        let id = runtime.runDetached(r) { result in
            // A refusal completes synchronously, before runDetached returns.
            if !result.started { refusal.withLock { $0 = result.error } }
            ended(result)
        }
        if let e = refusal.withLock({ $0 }) { return .refused(e) }
        return .accepted(runID: id)
    }

    func show(_ request: Request, runID: String) throws -> Response {
        let who = try auth.principal(request)
        if let record = runtime.runRecord(runID: runID, userID: who.userID) {
            return JSONResponse.make(.ok, RunJSON.record(record))
        }
        if runtime.isRunInFlight(runID: runID, userID: who.userID) {
            return JSONResponse.make(.ok, RunJSON.running(runID: runID))
        }
        throw APIError.notFound("no run \(runID)")
    }

    func cancel(_ request: Request, runID: String) throws -> Response {
        let who = try auth.principal(request)
        if runtime.cancel(runID: runID, userID: who.userID, reason: "cancelled over HTTP") {
            var w = JSONObjectWriter()
            w.string("run_id", runID)
            w.string("state", "cancelling")
            return JSONResponse.make(.accepted, w.finish())
        }
        if runtime.runRecord(runID: runID, userID: who.userID) != nil {
            throw APIError(.conflict, "not_running", "run \(runID) already finished")
        }
        throw APIError.notFound("no run \(runID)")
    }
}
