import ArgumentParser
import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// A JSON option value (`--input`, `--args`): the text itself, or `@FILE` for a file's bytes.
///
/// A file is read as bytes and refused if it is not valid UTF-8, naming the file and the byte
/// offset: decoding with replacement would silently turn bad bytes into U+FFFD and hand the
/// agent text the user never wrote.
enum JSONArgument {
    /// The JSON text of `value` given to `option`; throws a ValidationError naming what is wrong.
    /// With `checkJSON`, the text must also parse (the error carries the parser's byte offset).
    static func read(_ value: String, option: String, checkJSON: Bool) throws -> String {
        let text: String
        let origin: String
        if value.hasPrefix("@") {
            let path = String(value.dropFirst())
            origin = "\(option) @\(path)"
            let bytes = try readFile(path, option: option)
            if let offset = firstInvalidUTF8(bytes) {
                throw ValidationError("\(origin): the file \(path) is not valid UTF-8 (invalid byte sequence at byte \(offset))")
            }
            text = String(decoding: bytes, as: UTF8.self)
        } else {
            origin = option
            text = value
        }
        if checkJSON {
            do { try JSONValue.checkSyntax(text) } catch { throw ValidationError("\(origin) is not valid JSON: \(error)") }
        }
        return text
    }

    /// The whole file at `path`.
    static func readFile(_ path: String, option: String) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else {
            throw ValidationError("\(option): cannot read the file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n > 0 { bytes += buffer[0..<n] }
            if n < buffer.count {
                if ferror(f) != 0 { throw ValidationError("\(option): error reading the file \(path)") }
                break
            }
        }
        return bytes
    }

    /// The offset of the first byte that does not start a well-formed UTF-8 sequence, or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}
