/// What the runtime knows about an agent, whoever implements it (a C plugin, a Swift plugin,
/// or Swift code registered by a host).
public struct AgentDescriptor: Sendable, Equatable {
    /// The plugin's name (`[a-z0-9_.-]`, 1–64).
    public let plugin: String
    /// The agent's name within the plugin.
    public let name: String
    public let description: String
    /// JSON Schema of the input, when the agent declares one.
    public let inputSchema: JSONValue?
    /// Whether the agent accepts concurrent calls on one instance.
    public let threadSafe: Bool
    /// The agent's own default timeout; `nil` means the runtime's default.
    public let defaultTimeout: Duration?
    /// Whether the agent keeps per-user state through session open/close hooks.
    public let hasSessionHooks: Bool
    /// The agent declares it returns promptly and never blocks (`AGENTRT_AGENT_RETURNS_PROMPTLY`):
    /// its calls run on the calling thread unless the caller asks for a hand-off.
    public let returnsPromptly: Bool

    public init(plugin: String, name: String, description: String = "", inputSchema: JSONValue? = nil,
                threadSafe: Bool = true, defaultTimeout: Duration? = nil, hasSessionHooks: Bool = false,
                returnsPromptly: Bool = false) {
        self.plugin = plugin
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
        self.threadSafe = threadSafe
        self.defaultTimeout = defaultTimeout
        self.hasSessionHooks = hasSessionHooks
        self.returnsPromptly = returnsPromptly
    }

    /// `plugin.name`.
    public var qualifiedName: String { "\(plugin).\(name)" }
}

/// How a tool is implemented.
public enum ToolKind: Sendable, Equatable {
    /// JSON arguments in, JSON result out.
    case json
    /// A C function described by its prototype, called through libffi.
    case native(prototype: String)
    /// Registered by the embedding host.
    case host
}

/// What the runtime knows about a tool (described as the Model Context Protocol describes tools).
public struct ToolDescriptor: Sendable, Equatable {
    /// The owning plugin (or `host`).
    public let plugin: String
    /// The tool's short name; the dispatcher names it `plugin.name`.
    public let name: String
    public let description: String
    /// JSON Schema of the arguments (`type: object`).
    public let inputSchema: JSONValue
    /// JSON Schema of the result, when known (typed tools derive it from the return type).
    public let outputSchema: JSONValue?
    public let kind: ToolKind
    public let defaultTimeout: Duration?

    public init(plugin: String, name: String, description: String = "", inputSchema: JSONValue,
                outputSchema: JSONValue? = nil, kind: ToolKind, defaultTimeout: Duration? = nil) {
        self.plugin = plugin
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.kind = kind
        self.defaultTimeout = defaultTimeout
    }

    public var qualifiedName: String { "\(plugin).\(name)" }
}

/// Name rules shared by the loader, the registry and the dispatcher.
public enum NameRules {
    /// Plugin names the runtime keeps for itself (`host.*` tools are the embedding host's,
    /// `agentrt.*` the runtime's own).
    public static let reservedPluginNames: Set<String> = ["host", "agentrt"]

    /// Plugin and agent names: `[a-z0-9_-]`, 1–64 bytes. No `.`: it separates plugin from agent
    /// (`plugin.agent`), so a dot inside a name could make two names collide.
    public static func checkAgentOrPluginName(_ s: String) -> String? {
        if s.isEmpty { return "is empty" }
        if s.utf8.count > 64 { return "is \(s.utf8.count) bytes long (at most 64)" }
        for b in s.utf8 where !(b >= 0x61 && b <= 0x7A) && !(b >= 0x30 && b <= 0x39) && b != 0x5F && b != 0x2D {
            if b == 0x2E { return "contains '.', which separates plugin and name (plugin.agent); use '_' or '-'" }
            return "contains \(describe(byte: b)); only a-z, 0-9, '_' and '-' are allowed"
        }
        return nil
    }

    /// A plugin name: an agent name that is not reserved.
    public static func checkPluginName(_ s: String) -> String? {
        if let why = checkAgentOrPluginName(s) { return why }
        if reservedPluginNames.contains(s) { return "is reserved (\(reservedPluginNames.sorted().joined(separator: ", ")) are the runtime's)" }
        return nil
    }

    /// Tool names: `[A-Za-z0-9_-]`, 1–64 bytes. No `.` (see `checkAgentOrPluginName`).
    public static func checkToolName(_ s: String, max: Int = 64) -> String? {
        if s.isEmpty { return "is empty" }
        if s.utf8.count > max { return "is \(s.utf8.count) bytes long (at most \(max))" }
        for b in s.utf8 where !(b >= 0x61 && b <= 0x7A) && !(b >= 0x41 && b <= 0x5A) && !(b >= 0x30 && b <= 0x39)
            && b != 0x5F && b != 0x2D {
            if b == 0x2E { return "contains '.', which separates plugin and tool (plugin.tool); use '_' or '-'" }
            return "contains \(describe(byte: b)); only A-Z, a-z, 0-9, '_' and '-' are allowed"
        }
        return nil
    }

    /// Custom event types (`emit`): `[A-Za-z0-9_.-]`, 1–64 bytes (dots allowed: `progress.step`).
    public static func checkEventType(_ s: String) -> String? {
        if s.isEmpty { return "is empty" }
        if s.utf8.count > 64 { return "is \(s.utf8.count) bytes long (at most 64)" }
        var copy = s   // a contiguous view: this runs for every emitted event
        let bad: UInt8? = copy.withUTF8 { bytes in
            bytes.first { b in !(b >= 0x61 && b <= 0x7A) && !(b >= 0x41 && b <= 0x5A) && !(b >= 0x30 && b <= 0x39)
                && b != 0x5F && b != 0x2E && b != 0x2D }
        }
        if let b = bad { return "contains \(describe(byte: b)); only A-Z, a-z, 0-9, '_', '.' and '-' are allowed" }
        return nil
    }

    static func describe(byte b: UInt8) -> String {
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }
}
