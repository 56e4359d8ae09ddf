// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "agentrt",
    products: [
        .executable(name: "agentrt", targets: ["agentrt"]),
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
        // Serves the runtime's tools and agents to MCP clients (stdio now, Streamable HTTP later).
        .target(
            name: "AgentRTMCP",
            dependencies: ["AgentRTCore", .product(name: "MCP", package: "swift-sdk"),
                           .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        .executableTarget(
            name: "agentrt",
            dependencies: [
                "AgentRTCore", "AgentRTNative", "AgentRTMCP", "CFFI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .target(name: "SwiftPlannerPlugin", dependencies: ["AgentRTSDK"], path: "plugins/swift-planner",
                swiftSettings: strict),
        .target(name: "CBenchPlugin", dependencies: ["CAgentRT"], path: "plugins/c-bench",
                cSettings: [.unsafeFlags(["-fvisibility=hidden"])]),
        .testTarget(name: "AgentRTCoreTests", dependencies: ["AgentRTCore", "AgentRTTesting"], swiftSettings: strict),
        .testTarget(
            name: "AgentRTNativeTests",
            dependencies: ["AgentRTNative", "AgentRTCore", "AgentRTTesting", "CAgentRT", "agentrt"],
            exclude: ["Fixtures"],
            swiftSettings: strict),
        .testTarget(
            name: "AgentRTMCPTests",
            dependencies: ["AgentRTMCP", "AgentRTNative", "AgentRTCore", "agentrt",
                           .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: strict),
    ]
)
