import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 document of every endpoint (kept here, in the binary,
/// so the served document is always the one of the running build).
enum OpenAPIDocument {
    static func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/openapi.json") { _, _ in JSONResponse.make(.ok, json) }
    }

    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {"title": "agentrt serve", "version": "1", "description": "Agents for many users over HTTP, Server-Sent Events, WebSocket and MCP (/mcp). Every /v1 endpoint needs `Authorization: Bearer TOKEN` (SSE and WebSocket also accept ?access_token=). Every error body is {\"error\":{\"code\",\"message\"}}."},
  "components": {
    "securitySchemes": {
      "bearer": {"type": "http", "scheme": "bearer"},
      "query": {"type": "apiKey", "in": "query", "name": "access_token"}
    },
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
      "RunRequest": {"type": "object", "required": ["agent"], "properties": {
        "agent": {"type": "string", "description": "plugin.agent"},
        "input": {"description": "Any JSON; validated against the agent's input schema"},
        "session_id": {"type": "string"}, "timeout_ms": {"type": "integer", "minimum": 1}, "wait": {"type": "boolean"}}},
      "JSONRPCMessage": {"type": "object", "required": ["jsonrpc"], "properties": {"jsonrpc": {"const": "2.0"}, "id": {"type": ["string", "integer", "null"]}, "method": {"type": "string"}, "params": {"type": "object"}, "result": {}, "error": {"type": "object"}}},
      "RunAccepted": {"type": "object", "required": ["run_id"], "properties": {"run_id": {"type": "string"}}},
      "RunOutcome": {"type": "object", "required": ["run_id", "status"], "properties": {
        "run_id": {"type": "string"}, "status": {"type": "string", "description": "ok or the error code"},
        "result": {}, "error": {"$ref": "#/components/schemas/Error/properties/error"}}},
      "RunState": {"type": "object", "required": ["run_id", "state"], "properties": {
        "run_id": {"type": "string"}, "state": {"type": "string", "enum": ["running", "finished", "refused"]},
        "status": {"type": "string"}, "result": {}, "error": {"$ref": "#/components/schemas/Error/properties/error"},
        "agent": {"type": "string"}, "session_id": {"type": "string"}, "duration_ms": {"type": "integer"}, "finished_at": {"type": "string"}}}
    },
    "responses": {
      "Unauthorized": {"description": "No or unknown token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotFound": {"description": "No such run (also another user's)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "McpError": {"description": "A JSON-RPC error without id (404: no such session, also another user's; 429: the user's session limit)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JSONRPCMessage"}}}}
    },
    "parameters": {
      "McpSessionId": {"name": "Mcp-Session-Id", "in": "header", "schema": {"type": "string"}, "description": "The session, from initialize's response"},
      "McpProtocolVersion": {"name": "MCP-Protocol-Version", "in": "header", "schema": {"type": "string"}, "description": "The negotiated protocol version, e.g. 2025-11-25"}
    }
  },
  "security": [{"bearer": []}],
  "paths": {
    "/healthz": {"get": {"security": [], "summary": "Liveness", "responses": {"200": {"description": "Up", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/readyz": {"get": {"security": [], "summary": "Readiness (503 while draining)", "responses": {
      "200": {"description": "Ready", "content": {"application/json": {"schema": {"type": "object"}}}},
      "503": {"description": "Draining", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
    "/openapi.json": {"get": {"security": [], "summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/metrics": {"get": {"security": [], "summary": "Prometheus text format (no user ids)", "responses": {"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    "/": {"get": {"security": [], "summary": "The live page", "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
    "/v1/agents": {"get": {"summary": "Loaded agents with their input schemas", "responses": {
      "200": {"description": "Agents", "content": {"application/json": {"schema": {"type": "object", "required": ["agents"], "properties": {"agents": {"type": "array", "items": {"type": "object"}}}}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/v1/tools": {"get": {"summary": "Loaded tools with their schemas", "responses": {
      "200": {"description": "Tools", "content": {"application/json": {"schema": {"type": "object", "required": ["tools"], "properties": {"tools": {"type": "array", "items": {"type": "object"}}}}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/v1/stats": {"get": {"summary": "Runtime stats (admin token)", "responses": {
      "200": {"description": "Stats", "content": {"application/json": {"schema": {"type": "object"}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"},
      "403": {"description": "Not an admin token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
    "/v1/users": {"get": {"summary": "Users with state (admin token)", "responses": {
      "200": {"description": "Users", "content": {"application/json": {"schema": {"type": "object", "required": ["users"], "properties": {"users": {"type": "array", "items": {"type": "object"}}}}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"},
      "403": {"description": "Not an admin token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
    "/v1/runs": {"post": {"summary": "Start a run of the token's user", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunRequest"}}}},
      "responses": {
        "202": {"description": "Admitted (without wait)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunAccepted"}}}},
        "200": {"description": "Ended (with wait): ok, or the failure of a run that started", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunOutcome"}}}},
        "400": {"description": "Bad body or ids", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"description": "Unknown agent", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "413": {"description": "Body too large", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "422": {"description": "Input does not match the agent's schema", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "429": {"description": "Overloaded (Retry-After)", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "503": {"description": "Circuit open, quarantined or draining (Retry-After)", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
    "/v1/runs/{id}": {"get": {"summary": "A run's state and outcome", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "State", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunState"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
    "/v1/runs/{id}/cancel": {"post": {"summary": "Cancel a run", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"202": {"description": "Cancelling", "content": {"application/json": {"schema": {"type": "object"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"},
        "409": {"description": "Already finished", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
    "/v1/events": {"get": {"summary": "The user's events as Server-Sent Events (id: seq, event: type, data: envelope); `: keepalive` comments; stream_gap when the cursor expired",
      "security": [{"bearer": []}, {"query": []}],
      "parameters": [{"name": "after_seq", "in": "query", "schema": {"type": "integer", "minimum": 0}}, {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}],
      "responses": {"200": {"description": "Event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        "400": {"description": "Bad cursor", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/v1/stream": {"get": {"summary": "WebSocket: every envelope of the user's stream; client messages subscribe {after_seq}, run {agent,input,session_id?,request_id?} (answered by run_accepted or run_refused before the run's events), cancel {run_id}. A client that falls behind is closed with 1008 and `resume with after_seq=N`. A refused upgrade is answered with its status and error body: 401 without a valid token, 400 for a bad after_seq, 503 while draining.",
      "security": [{"bearer": []}, {"query": []}],
      "parameters": [{"name": "after_seq", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
      "responses": {"101": {"description": "Switching to WebSocket"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "400": {"description": "Bad after_seq", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "503": {"description": "Draining", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
    "/mcp": {
      "post": {"summary": "MCP Streamable HTTP (protocol 2025-11-25): one JSON-RPC message. `initialize` without Mcp-Session-Id creates a session bound to the token's user (its id comes back in Mcp-Session-Id); every later message carries that header (and MCP-Protocol-Version). A request is answered by an SSE stream (progress notifications, then the response); a notification by 202. Tools are plugin.tool, agents plugin.agent.NAME; an agent result's _meta[\"agentrt/run_id\"] is its run (GET /v1/runs/{id}).",
        "parameters": [{"$ref": "#/components/parameters/McpSessionId"}, {"$ref": "#/components/parameters/McpProtocolVersion"}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JSONRPCMessage"}}}},
        "responses": {
          "200": {"description": "SSE stream of JSON-RPC messages (event: message)", "headers": {"Mcp-Session-Id": {"schema": {"type": "string"}}}, "content": {"text/event-stream": {"schema": {"type": "string"}}}},
          "202": {"description": "Notification accepted"},
          "400": {"$ref": "#/components/responses/McpError"}, "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/McpError"}, "404": {"$ref": "#/components/responses/McpError"},
          "406": {"$ref": "#/components/responses/McpError"}, "413": {"description": "Body too large", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "415": {"$ref": "#/components/responses/McpError"}, "429": {"$ref": "#/components/responses/McpError"},
          "503": {"description": "Draining, or the server's session limit (Retry-After)", "content": {"application/json": {"schema": {"type": "object"}}}}}},
      "get": {"summary": "MCP: the session's stream of server messages (SSE; needs Accept: text/event-stream)",
        "parameters": [{"$ref": "#/components/parameters/McpSessionId"}, {"$ref": "#/components/parameters/McpProtocolVersion"}],
        "responses": {"200": {"description": "SSE stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
          "400": {"$ref": "#/components/responses/McpError"}, "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/McpError"}, "406": {"$ref": "#/components/responses/McpError"},
          "409": {"$ref": "#/components/responses/McpError"}}},
      "delete": {"summary": "MCP: end the session (its agent runs still in flight are cancelled)",
        "parameters": [{"$ref": "#/components/parameters/McpSessionId"}, {"$ref": "#/components/parameters/McpProtocolVersion"}],
        "responses": {"200": {"description": "Ended"}, "400": {"$ref": "#/components/responses/McpError"},
          "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/McpError"}}}}
  }
}
"""#
}
