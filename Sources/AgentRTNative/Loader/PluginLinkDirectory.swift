#if canImport(Glibc)
import Glibc
#endif

/// The process's private directory of identity links (`<device>-<inode>.so`, see
/// `PluginLoader.open`): `$TMPDIR/agentrt-plugins-<pid>-XXXXXX` (`/tmp` when TMPDIR is unset,
/// empty or unusable), created on the first plugin load.
///
/// A link stays for the life of the process although the mapping would survive its removal:
/// the dynamic linker records the link's path as the library's name, and debuggers and the
/// sanitizers' symbolizers open that path to read the plugin's symbols (a crash or a race
/// report in plugin code would otherwise lose its function names). The directory is removed
/// by an `atexit` handler. A process that does not reach `exit` (a signal, `_exit`) leaves it
/// behind, so creating the directory first removes those of processes that no longer exist.
enum PluginLinkDirectory {
    static let prefix = "agentrt-plugins-"

    /// The directory, or nil when none could be created (plugins then load by their own path).
    static let path: String? = create()

    /// The directory for the exit handler, as a C string that is never freed, and the process
    /// that created it (a forked child inherits the handler but must leave the parent's links).
    nonisolated(unsafe) private static var exitPath: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var owner: pid_t = 0

    /// `$TMPDIR` without trailing slashes when it names a directory, else `/tmp`.
    static func temporaryBase() -> String {
        if let env = getenv("TMPDIR") {
            var dir = String(cString: env)
            while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
            var st = stat()
            if !dir.isEmpty, stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return dir }
        }
        return "/tmp"
    }

    private static func create() -> String? {
        let base = temporaryBase()
        removeAbandoned(in: base)
        var template = Array("\(base)/\(prefix)\(getpid())-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { return nil }
        exitPath = strdup(dir)
        owner = getpid()
        atexit(removePluginLinkDirectoryAtExit)
        return String(cString: dir)
    }

    /// Removes the links in `dir` (only symbolic links: nothing else is ours) and then `dir`.
    static func removeLinks(in dir: UnsafePointer<CChar>) {
        if let d = opendir(dir) {
            while let entry = readdir(d) {
                let name = entryName(entry)
                if name == "." || name == ".." { continue }
                let full = String(cString: dir) + "/" + name
                var st = stat()
                if lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK { unlink(full) }
            }
            closedir(d)
        }
        rmdir(dir)
    }

    /// Removes `agentrt-plugins-<pid>-XXXXXX` directories of this user whose process is gone.
    /// Directories of live processes, of other users and of other shapes are left alone.
    static func removeAbandoned(in base: String) {
        guard let d = opendir(base) else { return }
        var abandoned: [String] = []
        while let entry = readdir(d) {
            let name = entryName(entry)
            guard let pid = ownerPID(ofDirectoryNamed: name), pid != getpid() else { continue }
            guard kill(pid, 0) != 0 && errno == ESRCH else { continue }
            var st = stat()
            let full = "\(base)/\(name)"
            guard lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == getuid() else { continue }
            abandoned.append(full)
        }
        closedir(d)
        for dir in abandoned { removeLinks(in: dir) }
    }

    /// The name of a directory entry, read in place: readdir's entries are only as long as
    /// their name (d_reclen), so copying the `dirent` (its 256-byte d_name) reads past the end.
    private static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
    }

    /// The pid in `agentrt-plugins-<pid>-XXXXXX` (mkdtemp's six characters), or nil.
    static func ownerPID(ofDirectoryNamed name: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: "-"), rest[rest.index(after: dash)...].count == 6,
              let pid = pid_t(rest[..<dash]), pid > 0 else { return nil }
        return pid
    }

    fileprivate static func removeAtExit() {
        guard let dir = exitPath, owner == getpid() else { return }
        removeLinks(in: dir)
    }
}

/// The `atexit` handler (a C function pointer: a global function, no captures).
private func removePluginLinkDirectoryAtExit() {
    PluginLinkDirectory.removeAtExit()
}
