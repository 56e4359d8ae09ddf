// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "agentrt",
    products: [
        .executable(name: "agentrt", targets: ["agentrt"]),
        // The worker process of process isolation: loads one plugin, serves the runtime's calls.
        .executable(name: "agentrt-worker", targets: ["agentrt-worker"]),
        .library(name: "AgentRT", type: .dynamic, targets: ["AgentRT"]),
        .library(name: "AgentRTCore", targets: ["AgentRTCore"]),
        .library(name: "AgentRTNative", targets: ["AgentRTNative"]),
        .library(name: "AgentRTSDK", targets: ["AgentRTSDK"]),
        // Test support for hosts and for our own suites: a manual clock.
        .library(name: "AgentRTTesting", targets: ["AgentRTTesting"]),
        // Example Swift plugin, written with AgentRTSDK only.
        .library(name: "SwiftPlannerPlugin", type: .dynamic, targets: ["SwiftPlannerPlugin"]),
        // The no-op agents `agentrt bench` measures with.
        .library(name: "AgentRTBenchPlugin", type: .dynamic, targets: ["CBenchPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The Model Context Protocol (`agentrt mcp`): JSON-RPC, lifecycle and stdio transport.
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
        // Already a dependency of the MCP SDK; named here for its FileDescriptor (stdio transport).
        .package(url: "https://github.com/apple/swift-system.git", from: "1.0.0"),
        // The server face (`agentrt serve`). No default traits: swift-configuration is not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already a dependency of Hummingbird; named for the channel handler that answers a refused
        // WebSocket upgrade with its real status (401, 503) instead of hummingbird-websocket's bare 400.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        // The C headers: agentrt/plugin.h (plugin ABI) and agentrt/agentrt.h (embedding API).
        .target(name: "CAgentRT", path: "include", publicHeadersPath: "."),
        .systemLibrary(name: "CFFI", path: "Sources/CFFI", pkgConfig: "libffi",
                       providers: [.apt(["libffi-dev"])]),
        .target(name: "AgentRTCore", swiftSettings: strict),
        .target(name: "AgentRTTesting", dependencies: ["AgentRTCore"], swiftSettings: strict),
        .target(name: "AgentRTNative", dependencies: ["AgentRTCore", "CAgentRT", "CFFI"], swiftSettings: strict),
        // Exports agentrt_plugin_magic from every Swift plugin (Swift cannot name a data symbol).
        .target(name: "CAgentRTPluginMagic", dependencies: ["CAgentRT"]),
        .target(name: "AgentRTSDK", dependencies: ["CAgentRT", "CAgentRTPluginMagic"], swiftSettings: strict),
        .target(name: "AgentRT", dependencies: ["AgentRTCore", "AgentRTNative", "CAgentRT"], swiftSettings: strict),
        // Serves the runtime's tools and agents to MCP clients (stdio; Streamable HTTP through AgentRTServer).
        .target(
            name: "AgentRTMCP",
            dependencies: ["AgentRTCore", .product(name: "MCP", package: "swift-sdk"),
                           .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // HTTP, SSE and WebSocket over one Runtime: a thin face, no runtime logic.
        .target(
            name: "AgentRTServer",
            dependencies: [
                "AgentRTCore",
                // `/mcp`: the MCP service and the SDK's Streamable HTTP server transport.
                "AgentRTMCP",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "agentrt",
            dependencies: [
                "AgentRTCore", "AgentRTNative", "AgentRTMCP", "AgentRTServer", "CFFI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "agentrt-worker", dependencies: ["AgentRTNative"], swiftSettings: strict),
        .target(name: "SwiftPlannerPlugin", dependencies: ["AgentRTSDK"], path: "plugins/swift-planner",
                swiftSettings: strict),
        .target(name: "CBenchPlugin", dependencies: ["CAgentRT"], path: "plugins/c-bench",
                cSettings: [.unsafeFlags(["-fvisibility=hidden"])]),
        .testTarget(name: "AgentRTCoreTests", dependencies: ["AgentRTCore", "AgentRTTesting"], swiftSettings: strict),
        .testTarget(
            name: "AgentRTServerTests",
            dependencies: ["AgentRTServer", "AgentRTCore", "AgentRTTesting"],
            swiftSettings: strict),
        .testTarget(
            name: "AgentRTNativeTests",
            dependencies: ["AgentRTNative", "AgentRTCore", "AgentRTTesting", "CAgentRT", "agentrt", "agentrt-worker"],
            exclude: ["Fixtures"],
            swiftSettings: strict),
        .testTarget(
            name: "AgentRTMCPTests",
            dependencies: ["AgentRTMCP", "AgentRTNative", "AgentRTCore", "agentrt",
                           .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: strict),
    ]
)
