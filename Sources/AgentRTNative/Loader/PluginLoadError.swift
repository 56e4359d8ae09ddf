/// Why a plugin was refused. Each refusal has a stable code and a message that names the file
/// and the exact problem, e.g. "libfoo.so was built for plugin ABI 2.0; this runtime speaks 1.x".
public struct PluginLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable refusal codes (also printed by `agentrt load --json`).
    public enum Code: String, Sendable, CaseIterable {
        /// The path does not exist or is not a regular file.
        case fileNotFound = "file_not_found"
        /// The file is not an ELF shared object, or the dynamic linker refused it.
        case notLoadable = "not_loadable"
        /// `agentrt_plugin_magic` is not exported.
        case missingMagic = "missing_magic"
        /// The magic's tag or size is wrong: not an agentrt plugin, or a corrupt one.
        case badMagic = "bad_magic"
        /// Built for another ABI major version.
        case abiMajorMismatch = "abi_major_mismatch"
        /// Built for a newer minor version than this runtime speaks.
        case abiTooNew = "abi_too_new"
        /// Built for another pointer size.
        case pointerSizeMismatch = "pointer_size_mismatch"
        /// `agentrt_plugin_entry` is not exported.
        case missingEntry = "missing_entry"
        /// `agentrt_plugin_entry` returned NULL.
        case entryReturnedNull = "entry_returned_null"
        /// The descriptor breaks a rule (names, sizes, counts, schemas, prototypes).
        case invalidDescriptor = "invalid_descriptor"
        /// The plugin's `on_init` failed.
        case initFailed = "init_failed"
        /// A plugin of the same name was already loaded from another file.
        case duplicatePlugin = "duplicate_plugin"
        /// Process isolation: the worker process could not be started, or died while it loaded the plugin.
        case workerFailed = "worker_failed"
    }

    public let code: Code
    /// The path given to the loader.
    public let path: String
    /// What is wrong, for a person; starts with the file's name.
    public let message: String

    public init(_ code: Code, path: String, _ problem: String) {
        self.code = code
        self.path = path
        let file = path.split(separator: "/").last.map(String.init) ?? path
        self.message = "\(file): \(problem)"
    }

    public var description: String { message }
}
