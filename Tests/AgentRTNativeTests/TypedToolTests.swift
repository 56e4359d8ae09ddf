import AgentRTCore
import Foundation
import Testing

@testable import AgentRTNative

/// Tests/AgentRTNativeTests/Fixtures/typed_fixture.c, compiled once per test process.
final class TypedFixture: @unchecked Sendable {
    static let shared = Result { () throws -> TypedFixture in try TypedFixture() }

    let handle: UnsafeMutableRawPointer

    private init() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/typed_fixture.c").path
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("agentrt-typed-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let library = directory.appendingPathComponent("libtyped_fixture.so").path
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-std=c99", "-shared", "-fPIC", "-o", library, source]
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw FixtureError("cc failed with status \(cc.terminationStatus)") }
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            throw FixtureError("dlopen failed: \(String(cString: dlerror()))")
        }
        self.handle = handle
    }

    static func tool(_ prototype: String) throws -> TypedTool {
        let fixture = try shared.get()
        let parsed = try CPrototype.parse(prototype)
        guard let symbol = dlsym(fixture.handle, parsed.name) else { throw FixtureError("no symbol \(parsed.name)") }
        return try TypedTool(prototype: parsed, function: UnsafeRawPointer(symbol))
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func number(_ literal: String) -> JSONValue { .number(JSONNumber(literal: literal)!) }

private func invoke(_ tool: TypedTool, _ args: JSONValue) throws -> JSONValue {
    try tool.call(tool.convertArguments(args))
}

/// The text of a number result, so "exact" means digit for digit, not just numerically equal.
private func numberText(_ value: JSONValue) -> String? {
    if case .number(let n) = value { n.text } else { nil }
}

@Suite("TypedTool")
struct TypedToolTests {
    // MARK: Round trips

    static let integerBoundaries: [(String, [String])] = [
        ("int8_t id_i8(int8_t x)", ["-128", "127", "0", "-1"]),
        ("int16_t id_i16(int16_t x)", ["-32768", "32767", "0", "-1"]),
        ("int32_t id_i32(int32_t x)", ["-2147483648", "2147483647", "0", "-1"]),
        ("int64_t id_i64(int64_t x)", ["-9223372036854775808", "9223372036854775807", "0", "-1"]),
        ("uint8_t id_u8(uint8_t x)", ["0", "255", "1"]),
        ("uint16_t id_u16(uint16_t x)", ["0", "65535", "1"]),
        ("uint32_t id_u32(uint32_t x)", ["0", "4294967295", "1"]),
        ("uint64_t id_u64(uint64_t x)", ["0", "18446744073709551615", "1"]),
        ("int id_int(int x)", ["-2147483648", "2147483647", "0", "-1"]),
        ("long id_long(long x)", ["-9223372036854775808", "9223372036854775807", "0", "-1"]),
        ("size_t id_size(size_t x)", ["0", "18446744073709551615", "1"]),
    ]

    @Test("integers round-trip exactly at their boundaries", arguments: integerBoundaries)
    func integerRoundTrip(prototype: String, values: [String]) throws {
        let tool = try TypedFixture.tool(prototype)
        for literal in values {
            let result = try invoke(tool, ["x": number(literal)])
            #expect(numberText(result) == literal, "\(prototype) with \(literal)")
        }
    }

    @Test("integers one past either end are refused", arguments: integerBoundaries)
    func integerOutOfRange(prototype: String, values: [String]) throws {
        let tool = try TypedFixture.tool(prototype)
        let type = tool.prototype.parameters[0].type
        let below = type.integerMinimum == Int64.min ? "-9223372036854775809" : String(type.integerMinimum - 1)
        let above = type.integerMaximum == UInt64.max ? "18446744073709551616" : String(type.integerMaximum + 1)
        for literal in [below, above] {
            let error = #expect(throws: TypedToolArgumentError.self) { try tool.convertArguments(["x": number(literal)]) }
            #expect(error?.argument == "x")
            #expect(error?.message == "argument \"x\": \(literal) is out of range for \(type.cName) "
                + "(\(type.integerMinimum)...\(type.integerMaximum))")
        }
    }

    @Test("float and double round-trip through their shortest decimal form")
    func floatingRoundTrip() throws {
        let floats = try TypedFixture.tool("float id_f(float x)")
        for (input, output) in [("0", "0.0"), ("-1", "-1.0"), ("0.1", "0.1"), ("3.4028235e+38", "3.4028235e+38"),
                                ("-3.4028235e+38", "-3.4028235e+38"), ("1e-45", "1e-45"), ("1.5", "1.5")] {
            #expect(numberText(try invoke(floats, ["x": number(input)])) == output, "float \(input)")
        }
        let doubles = try TypedFixture.tool("double id_d(double x)")
        for (input, output) in [("0", "0.0"), ("-0.0", "-0.0"), ("0.1", "0.1"), ("5e-324", "5e-324"),
                                ("1.7976931348623157e+308", "1.7976931348623157e+308"),
                                ("-1.7976931348623157e+308", "-1.7976931348623157e+308"),
                                ("18446744073709551615", "1.8446744073709552e+19")] {
            #expect(numberText(try invoke(doubles, ["x": number(input)])) == output, "double \(input)")
        }
        // NaN and infinities are errors, never null (TypedToolNonFiniteTests).
        let nan = try TypedFixture.tool("double not_a_number(void)")
        #expect(throws: TypedToolCallError.self) { try invoke(nan, [:]) }
    }

    @Test("bool, strings and narrow results")
    func otherTypes() throws {
        let bools = try TypedFixture.tool("_Bool id_b(bool x)")
        #expect(try invoke(bools, ["x": true]) == .bool(true))
        #expect(try invoke(bools, ["x": false]) == .bool(false))

        let strings = try TypedFixture.tool("const char *id_s(const char *s)")
        let long = String(repeating: "abcdefgh", count: 4096)
        for text in ["", "hello", "ünïcødé 🎉", long] {
            #expect(try invoke(strings, ["s": .string(text)]) == .string(text))
        }
        let length = try TypedFixture.tool("size_t str_len(char const* s)")
        #expect(numberText(try invoke(length, ["s": "ünï"])) == "5")

        #expect(numberText(try invoke(TypedFixture.tool("int8_t neg_i8(void)"), [:])) == "-1")
        #expect(numberText(try invoke(TypedFixture.tool("uint8_t max_u8()"), [:])) == "255")
        #expect(try invoke(TypedFixture.tool("bool yes(void)"), [:]) == .bool(true))
        #expect(try invoke(TypedFixture.tool("const char *null_s(void)"), [:]) == .null)

        let bad = try TypedFixture.tool("const char *bad_utf8(void)")
        let error = #expect(throws: TypedToolCallError.self) { try bad.call(bad.convertArguments([:])) }
        #expect(error?.message.contains("bad_utf8") == true)

        let add = try TypedFixture.tool("int64_t add(int64_t a, int64_t b)")
        #expect(numberText(try invoke(add, ["a": 40, "b": 2])) == "42")
        let mix = try TypedFixture.tool("double mix(int8_t a, uint16_t b, float c, double d, bool e, const char *s)")
        let mixed = try invoke(mix, ["a": -3, "b": 60000, "c": 0.5, "d": 0.25, "e": true, "s": "four"])
        #expect(numberText(mixed) == "61001.75")
    }

    // MARK: Refusals

    static let bumpPrototype = "void bump(int8_t i8, int16_t i16, int32_t i32, int64_t i64, uint8_t u8, "
        + "uint16_t u16, uint32_t u32, uint64_t u64, int i, long l, size_t z, float f, double d, bool b, "
        + "const char *s)"

    static let validBump: JSONObject = [
        "i8": 1, "i16": 2, "i32": 3, "i64": 4, "u8": 5, "u16": 6, "u32": 7, "u64": 8, "i": 9, "l": 10,
        "z": 11, "f": 1.5, "d": 2.5, "b": true, "s": "text",
    ]

    @Test("bad arguments are refused before any call")
    func refusals() throws {
        let bump = try TypedFixture.tool(Self.bumpPrototype)
        let counter = try TypedFixture.tool("int get_counter(void)")
        let before = try invoke(counter, [:])

        func refuse(_ args: JSONValue, argument: String?, _ message: String,
                    sourceLocation: SourceLocation = #_sourceLocation) {
            let error = #expect(throws: TypedToolArgumentError.self, sourceLocation: sourceLocation) {
                try invoke(bump, args)
            }
            #expect(error?.argument == argument, sourceLocation: sourceLocation)
            #expect(error?.message == message, sourceLocation: sourceLocation)
        }
        func with(_ key: String, _ value: JSONValue?) -> JSONValue {
            var object = Self.validBump
            object[key] = value
            return .object(object)
        }

        for parameter in bump.prototype.parameters {
            let name = parameter.name
            refuse(with(name, .none), argument: name, "missing argument \"\(name)\"")
            let expected = parameter.type == .bool ? "boolean"
                : parameter.type == .cString ? "string" : parameter.type.isInteger ? "integer" : "number"
            let prefix = "argument \"\(name)\": expected \(expected) (\(parameter.type.cName)), got"
            refuse(with(name, .null), argument: name, "\(prefix) null")
            refuse(with(name, []), argument: name, "\(prefix) array")
            refuse(with(name, [:]), argument: name, "\(prefix) object")
            if parameter.type == .cString { refuse(with(name, 1), argument: name, "\(prefix) number") }
            else { refuse(with(name, "1"), argument: name, "\(prefix) string") }
            if parameter.type != .bool { refuse(with(name, false), argument: name, "\(prefix) boolean") }
            if parameter.type.isInteger {
                for fraction in ["1.5", "1.0", "1e2", "-0.5"] {
                    refuse(with(name, number(fraction)), argument: name, "\(prefix) \(fraction)")
                }
                let type = parameter.type
                let range = "\(type.cName) (\(type.integerMinimum)...\(type.integerMaximum))"
                let below = type.integerMinimum == Int64.min ? "-9223372036854775809" : String(type.integerMinimum - 1)
                let above = type.integerMaximum == UInt64.max ? "18446744073709551616" : String(type.integerMaximum + 1)
                for literal in [below, above, "-99999999999999999999999"] {
                    refuse(with(name, number(literal)), argument: name,
                           "argument \"\(name)\": \(literal) is out of range for \(range)")
                }
            }
        }
        refuse(with("b", 1), argument: "b", "argument \"b\": expected boolean (bool), got number")
        refuse(with("f", number("3.5e38")), argument: "f", "argument \"f\": 3.5e38 is out of range for float")
        refuse(with("d", number("1e400")), argument: "d", "argument \"d\": 1e400 is out of range for double")
        refuse(with("s", "a\u{0}b"), argument: "s", "argument \"s\": string contains a NUL byte")
        refuse(with("extra", 1), argument: "extra", "unexpected argument \"extra\"")
        for notObject: JSONValue in [.null, [], "args", 1, true] {
            refuse(notObject, argument: nil, "arguments must be a JSON object, got \(notObject.typeName)")
        }

        #expect(try invoke(counter, [:]) == before, "a refused call reached the C function")
        #expect(try invoke(bump, .object(Self.validBump)) == .null)
        // Float's range edge and double's extremes are accepted.
        #expect(try invoke(bump, with("f", number("3.4028235e38"))) == .null)
        #expect(try invoke(bump, with("d", number("-1.7976931348623157e308"))) == .null)
        #expect(numberText(try invoke(counter, [:])) == String(before.int64Value! + 3))
    }

    // MARK: Schemas

    @Test("schemas derive from the prototype exactly")
    func schemas() throws {
        let add = try CPrototype.parse("int64_t add(int64_t a, int64_t b)")
        let int64: JSONValue = ["type": "integer", "minimum": -9223372036854775808, "maximum": 9223372036854775807]
        let expected: JSONValue = [
            "type": "object", "properties": ["a": int64, "b": int64], "required": ["a", "b"],
            "additionalProperties": false,
        ]
        #expect(add.inputSchema == expected)
        #expect(add.inputSchema.objectValue?.keys == ["type", "properties", "required", "additionalProperties"])
        #expect(add.outputSchema == int64)

        let mixed = try CPrototype.parse("const char *f(uint8_t u, size_t n, int i, bool b, float x, const char *s)")
        let properties: JSONValue = [
            "u": ["type": "integer", "minimum": 0, "maximum": 255],
            "n": ["type": "integer", "minimum": 0, "maximum": .number(JSONNumber(UInt64.max))],
            "i": ["type": "integer", "minimum": -2147483648, "maximum": 2147483647],
            "b": ["type": "boolean"], "x": ["type": "number"], "s": ["type": "string"],
        ]
        #expect(mixed.inputSchema["properties"] == properties)
        #expect(mixed.inputSchema["properties"]?.objectValue?.keys == ["u", "n", "i", "b", "x", "s"])
        #expect(mixed.inputSchema["required"] == ["u", "n", "i", "b", "x", "s"])
        #expect(mixed.outputSchema == ["type": ["string", "null"]])

        let none = try CPrototype.parse("void tick(void)")
        #expect(none.outputSchema == .none, "void has no output schema (not a null schema)")
        #expect(none.inputSchema == ["type": "object", "properties": [:], "required": [], "additionalProperties": false])
    }

    // MARK: Parsing

    @Test("accepted spellings parse to the canonical prototype")
    func parsing() throws {
        let cases: [(String, String)] = [
            ("int64_t add(int64_t a, int64_t b)", "int64_t add(int64_t a, int64_t b)"),
            ("  int64_t\tadd ( int64_t a ,int64_t\nb ) ; ", "int64_t add(int64_t a, int64_t b)"),
            ("const char*f(const char*s, char const *t, char const*u)",
             "const char *f(const char *s, const char *t, const char *u)"),
            ("_Bool f(bool a, signed int b, long int c, signed d, size_t e)", "bool f(bool a, int b, long c, int d, size_t e)"),
            ("void f()", "void f(void)"),
            ("double f( void )", "double f(void)"),
        ]
        for (text, canonical) in cases {
            #expect(try CPrototype.parse(text).description == canonical)
        }
        let sixteen = (1...16).map { "int p\($0)" }.joined(separator: ", ")
        #expect(try CPrototype.parse("void f(\(sixteen))").parameters.count == 16)
        let add = try CPrototype.parse("int64_t add(int64_t a, int64_t b)")
        #expect(add == CPrototype(name: "add", returnType: .int64, parameters: [
            .init(name: "a", type: .int64), .init(name: "b", type: .int64),
        ]))
    }

    @Test("every refusal names the offending token", arguments: [
        ("int f(int a, struct foo b)", "struct foo"),
        ("struct foo f(int a)", "struct foo"),
        ("int f(void a)", "void"),
        ("int f(void, int a)", "void"),
        ("int f(char *s)", "char *"),
        ("int f(int a, ...)", "..."),
        ("int f(int)", "int"),
        ("int f(const char *)", "const char *"),
        ("int f(int a[4])", "["),
        ("int f(int (*cb)(int))", "int (*cb)(int)"),
        ("int (*f)(int a)", "(*"),
        ("int f(int a) garbage", "garbage"),
        ("int f(int a))", ")"),
        ("int f(int a, int a)", "a"),
        ("int 1f(int a)", "1f"),
        ("int f(int a, int 2b)", "2b"),
        ("f(int a)", "f"),
        ("int f(int a", "("),
        ("int f", "f"),
        ("int f(int a,)", ","),
        ("unsigned f(int a)", "unsigned"),
        ("int f(long long a)", "long long"),
        ("int f(int *p)", "int *"),
        ("int f(const int a)", "const int"),
        ("int int(int a)", "int int"),
        ("void f(\((1...17).map { "int p\($0)" }.joined(separator: ", ")))", "int p17"),
    ])
    func parseRefusals(text: String, token: String) {
        let error = #expect(throws: CPrototypeError.self) { try CPrototype.parse(text) }
        #expect(error?.token == token, "\(text)")
        #expect(error?.message.contains("\"\(token)\"") == true, "\(error?.message ?? "") for \(text)")
    }

    @Test("the exact message for an unsupported parameter type")
    func parseMessage() {
        let error = #expect(throws: CPrototypeError.self) { try CPrototype.parse("int f(int a, struct foo b)") }
        #expect(error?.message == "unsupported type \"struct foo\" in parameter 2 of \"int f(int a, struct foo b)\"")
    }

    // MARK: Concurrency

    @Test("one prepared cif serves 8 threads at once")
    func concurrentCalls() throws {
        let add = try TypedFixture.tool("int64_t add(int64_t a, int64_t b)")
        let mix = try TypedFixture.tool("double mix(int8_t a, uint16_t b, float c, double d, bool e, const char *s)")
        let strings = try TypedFixture.tool("const char *id_s(const char *s)")
        let failures = FailureLog()
        let group = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for thread in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                start.wait()
                for i in 0..<2000 {
                    let a = Int64(thread) * 1_000_000_000_000 + Int64(i)
                    let sum = try? invoke(add, ["a": .int(a), "b": .int(-Int64(i) * 3)])
                    if sum.flatMap(numberText) != String(a - Int64(i) * 3) { failures.record("add \(thread) \(i)") }
                    let text = "t\(thread)-\(i)"
                    if (try? invoke(strings, ["s": .string(text)])) != .string(text) { failures.record("id_s \(text)") }
                    let mixed = try? invoke(mix, ["a": .int(thread), "b": .int(i), "c": 0.5, "d": 0.25, "e": false,
                                                  "s": .string(text)])
                    let expected = Double(thread) + Double(i) + 0.75 + Double(text.utf8.count)
                    if mixed?.doubleValue != expected { failures.record("mix \(thread) \(i)") }
                }
            }.start()
        }
        for _ in 0..<8 { start.signal() }
        group.wait()
        #expect(failures.entries.isEmpty, "\(failures.entries.prefix(5))")
    }
}

private final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func record(_ entry: String) { lock.withLock { list.append(entry) } }
    var entries: [String] { lock.withLock { list } }
}
