import AgentRTCore
import CAgentRT
#if canImport(Glibc)
import Glibc
#endif

/// Loads plugins: `dlopen(RTLD_NOW | RTLD_LOCAL)`, the magic read and checked before any plugin
/// function runs, then the entry, a full validation of the descriptor, and `on_init` with a JSON
/// config. Thread-safe; the same file (same device and inode) loaded twice is the same plugin.
public final class PluginLoader: @unchecked Sendable {
    /// The process-wide loader (plugins are process-wide: a library is mapped once).
    public static let shared = PluginLoader()

    private let lock = Lock()
    private var byFile: [FileID: NativePlugin] = [:]
    private var byName: [String: NativePlugin] = [:]
    /// Runtimes using each loaded plugin; at zero the plugin's `on_shutdown` runs and it is
    /// forgotten, so a later load runs its entry and `on_init` again (each init has one shutdown).
    private var uses: [FileID: Int] = [:]

    public init() {}

    /// A runtime starts using `plugin` (once per runtime).
    func retain(_ plugin: NativePlugin) {
        lock.withLock { uses[plugin.fileID, default: 0] += 1 }
    }

    /// A runtime stopped using `plugin`; the last one runs `on_shutdown` (on this thread, under
    /// the loader's lock like `on_init`) and retires it.
    /// With `shutDown` false (abandoned calls still run its code) the plugin stays loaded and
    /// initialised: a later runtime reuses it, and `on_shutdown` never runs under running code.
    func release(_ plugin: NativePlugin, shutDown: Bool = true) {
        lock.withLock {
            let n = (uses[plugin.fileID] ?? 1) - 1
            guard n <= 0 else { uses[plugin.fileID] = n; return }
            uses.removeValue(forKey: plugin.fileID)
            guard shutDown else { return }
            if byFile[plugin.fileID] === plugin { byFile.removeValue(forKey: plugin.fileID) }
            if byName[plugin.name] === plugin { byName.removeValue(forKey: plugin.name) }
            plugin.shutdown?(plugin.state)
        }
    }

    /// Every plugin loaded so far, in no particular order.
    public var plugins: [NativePlugin] { lock.withLock { Array(byFile.values) } }

    /// The plugin loaded under `name`, if any.
    public func plugin(named name: String) -> NativePlugin? { lock.withLock { byName[name] } }

    /// Loads the plugin at `path` (or returns the one already loaded from the same file).
    ///
    /// - Parameter config: JSON handed to the plugin's `on_init` (first load only).
    /// - Throws: `PluginLoadError` naming the file and what is wrong.
    public func load(path: String, config: String = "{}") throws(PluginLoadError) -> NativePlugin {
        let fileID = try Self.identify(path)
        // Loading runs plugin code (entry, on_init) once per file: serialise loads so two threads
        // loading the same file race to one plugin, not two inits.
        lock.lock()
        defer { lock.unlock() }
        if let existing = byFile[fileID] { return existing }
        let plugin = try Self.open(path: path, fileID: fileID, config: config) { name in byName[name]?.path }
        byFile[fileID] = plugin
        byName[plugin.name] = plugin
        return plugin
    }

    static func identify(_ path: String) throws(PluginLoadError) -> FileID {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            throw PluginLoadError(.fileNotFound, path: path, "cannot open \(path): \(reason)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw PluginLoadError(.fileNotFound, path: path, "\(path) is not a regular file")
        }
        return FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Reads the first bytes so that "not a shared library" gets a plain message, not dlerror's.
    static func checkELF(_ path: String) throws(PluginLoadError) {
        guard let f = fopen(path, "rb") else {
            throw PluginLoadError(.fileNotFound, path: path, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var header = [UInt8](repeating: 0, count: 18)
        let n = fread(&header, 1, header.count, f)
        guard n >= 18, header[0] == 0x7F, header[1] == 0x45, header[2] == 0x4C, header[3] == 0x46 else {
            throw PluginLoadError(.notLoadable, path: path, "not an ELF shared object (no ELF header)")
        }
        let type = UInt16(header[16]) | UInt16(header[17]) << 8
        guard type == 3 else { // ET_DYN
            throw PluginLoadError(.notLoadable, path: path, "not an ELF shared object (ELF type \(type), expected a shared library)")
        }
    }

    static func open(path: String, fileID: FileID, config: String,
                     loadedFrom: (String) -> String?) throws(PluginLoadError) -> NativePlugin {
        try checkELF(path)
        // glibc's dlopen matches an already-open library by its path string before it looks at
        // the file, so a plugin rebuilt in place (same path, new inode) would get the old
        // mapping. Opening through a private link named after the file's identity avoids that.
        let link = identityLink(for: path, fileID: fileID)
        guard let handle = dlopen(link ?? path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            if let link { unlink(link) }   // nothing was mapped through it
            throw PluginLoadError(.notLoadable, path: path, "the dynamic linker refused it: \(reason)")
        }
        // Refused libraries are not dlclosed either: their constructors may have started threads.
        guard let magicPtr = dlsym(handle, AGENTRT_MAGIC_SYMBOL) else {
            throw PluginLoadError(.missingMagic, path: path,
                "does not export \(AGENTRT_MAGIC_SYMBOL); is it an agentrt plugin? (C: add AGENTRT_DEFINE_PLUGIN(entry))")
        }
        try checkMagic(UnsafeRawPointer(magicPtr), path: path)
        guard let entryPtr = dlsym(handle, AGENTRT_ENTRY_SYMBOL) else {
            throw PluginLoadError(.missingEntry, path: path, "exports agentrt_plugin_magic but not \(AGENTRT_ENTRY_SYMBOL)")
        }
        let entry = unsafeBitCast(entryPtr, to: agentrt_plugin_entry_fn.self)
        guard let descriptor = entry(HostTable.pointer) else {
            throw PluginLoadError(.entryReturnedNull, path: path, "\(AGENTRT_ENTRY_SYMBOL) returned NULL (the plugin refused to load)")
        }
        let magic = UnsafeRawPointer(magicPtr).load(as: agentrt_magic.self)
        var reader = DescriptorReader(path: path)
        let parsed = try reader.read(UnsafeRawPointer(descriptor))
        if let other = loadedFrom(parsed.name) {
            throw PluginLoadError(.duplicatePlugin, path: path,
                                  "a plugin named \"\(parsed.name)\" is already loaded from \(other)")
        }

        var state: UnsafeMutableRawPointer? = nil
        if let initFn = parsed.onInit {
            let cap = 1024
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: cap)
            buffer.initialize(repeating: 0, count: cap)
            defer { buffer.deallocate() }
            let status = config.withCString { c in
                initFn(HostTable.pointer, agentrt_str(ptr: c, len: strlen(c)), &state, buffer, cap)
            }
            if status != 0 {
                buffer[cap - 1] = 0
                let msg = String(decoding: UnsafeRawBufferPointer(start: buffer, count: strlen(buffer)), as: UTF8.self)
                let name = HostStatus(rawValue: status)?.name ?? "status \(status)"
                throw PluginLoadError(.initFailed, path: path,
                                      "plugin \"\(parsed.name)\" failed to initialise (\(name)): \(msg.isEmpty ? "no message" : msg)")
            }
        }
        let stateForAgents = state
        return NativePlugin(path: path, name: parsed.name, version: parsed.version, description: parsed.description,
                            abiMajor: magic.abi_major, abiMinor: magic.abi_minor,
                            agents: parsed.agents, tools: parsed.tools, state: stateForAgents,
                            shutdown: parsed.onShutdown, fileID: fileID)
    }

    /// `<device>-<inode>.so` in the process's link directory, pointing at the file.
    static func identityLink(for path: String, fileID: FileID) -> String? {
        guard let dir = PluginLinkDirectory.path, let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        let link = "\(dir)/\(fileID.device)-\(fileID.inode).so"
        if symlink(real, link) != 0 && errno != EEXIST { return nil }
        return link
    }

    static func checkMagic(_ p: UnsafeRawPointer, path: String) throws(PluginLoadError) {
        let size = p.load(as: UInt32.self)
        let tag = p.load(fromByteOffset: 4, as: UInt32.self)
        guard tag == AGENTRT_MAGIC_TAG else {
            throw PluginLoadError(.badMagic, path: path,
                "agentrt_plugin_magic has tag 0x\(String(tag, radix: 16)), expected 0x\(String(AGENTRT_MAGIC_TAG, radix: 16)) (not built with agentrt/plugin.h?)")
        }
        guard size >= UInt32(MemoryLayout<agentrt_magic>.size) else {
            throw PluginLoadError(.badMagic, path: path,
                "agentrt_plugin_magic.struct_size is \(size), expected at least \(MemoryLayout<agentrt_magic>.size)")
        }
        let magic = p.load(as: agentrt_magic.self)
        let major = Int(magic.abi_major), minor = Int(magic.abi_minor)
        if major != Int(AGENTRT_ABI_MAJOR) {
            throw PluginLoadError(.abiMajorMismatch, path: path,
                "was built for plugin ABI \(major).\(minor); this runtime speaks \(AGENTRT_ABI_MAJOR).x (rebuild it against this runtime's agentrt/plugin.h)")
        }
        if minor > Int(AGENTRT_ABI_MINOR) {
            throw PluginLoadError(.abiTooNew, path: path,
                "was built for plugin ABI \(major).\(minor), newer than this runtime's \(AGENTRT_ABI_MAJOR).\(AGENTRT_ABI_MINOR) (upgrade agentrt)")
        }
        if Int(magic.pointer_size) != MemoryLayout<UnsafeRawPointer>.size {
            throw PluginLoadError(.pointerSizeMismatch, path: path,
                "was built for \(magic.pointer_size)-byte pointers; this runtime uses \(MemoryLayout<UnsafeRawPointer>.size)-byte pointers")
        }
    }
}
