import AgentRTCore
import Hummingbird

/// What the server has loaded and how it is: `/healthz`, `/readyz`, `/v1/agents`, `/v1/tools`,
/// and for admin tokens `/v1/stats` and `/v1/users`.
struct CatalogAPI: Sendable {
    let runtime: Runtime
    let state: ServerState
    let auth: Authenticator

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/healthz") { _, _ in JSONResponse.make(.ok, "{\"status\":\"ok\"}") }
        router.get("/readyz") { _, _ in
            if state.isDraining { throw APIError.draining }
            return JSONResponse.make(.ok, "{\"status\":\"ready\"}")
        }
        router.get("/v1/agents") { request, _ in
            _ = try auth.principal(request)
            return JSONResponse.make(.ok, Self.agentsJSON(runtime.agentDescriptors))
        }
        router.get("/v1/tools") { request, _ in
            _ = try auth.principal(request)
            return JSONResponse.make(.ok, Self.toolsJSON(runtime.tools.descriptors))
        }
        router.get("/v1/stats") { request, _ in
            _ = try auth.admin(request)
            return JSONResponse.make(.ok, runtime.statsJSON().serialized())
        }
        router.get("/v1/users") { request, _ in
            _ = try auth.admin(request)
            return JSONResponse.make(.ok, Self.usersJSON(runtime.listUsers()))
        }
    }

    static func agentsJSON(_ agents: [AgentDescriptor]) -> String {
        let list: [JSONValue] = agents.map { a in
            var o = JSONObject()
            o["name"] = .string(a.qualifiedName)
            o["plugin"] = .string(a.plugin)
            o["agent"] = .string(a.name)
            o["description"] = .string(a.description)
            o["input_schema"] = a.inputSchema ?? .null
            o["thread_safe"] = .bool(a.threadSafe)
            o["returns_promptly"] = .bool(a.returnsPromptly)
            o["has_session_hooks"] = .bool(a.hasSessionHooks)
            o["default_timeout_ms"] = a.defaultTimeout.map { .int($0.milliseconds) } ?? .null
            return .object(o)
        }
        return JSONValue.object(["agents": .array(list)]).serialized()
    }

    static func toolsJSON(_ tools: [ToolDescriptor]) -> String {
        let list: [JSONValue] = tools.map { t in
            var o = JSONObject()
            o["name"] = .string(t.qualifiedName)
            o["plugin"] = .string(t.plugin)
            o["tool"] = .string(t.name)
            o["description"] = .string(t.description)
            o["input_schema"] = t.inputSchema
            o["output_schema"] = t.outputSchema ?? .null
            switch t.kind {
            case .json: o["kind"] = "json"
            case .native(let prototype): o["kind"] = "native"; o["prototype"] = .string(prototype)
            case .host: o["kind"] = "host"
            }
            return .object(o)
        }
        return JSONValue.object(["tools": .array(list)]).serialized()
    }

    static func usersJSON(_ users: [Runtime.UserSummary]) -> String {
        let list: [JSONValue] = users.map { u in
            .object(["user_id": .string(u.userID), "sessions": .array(u.sessions.map { .string($0) }),
                     "in_flight": .int(u.inFlight)])
        }
        return JSONValue.object(["users": .array(list)]).serialized()
    }
}
