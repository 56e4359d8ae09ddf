public import AgentRTCore
import CFFI
import Glibc

/// Why JSON arguments do not fit a typed tool's prototype. Raised before any native call.
public struct TypedToolArgumentError: Error, Sendable, CustomStringConvertible {
    /// A human-readable explanation, e.g. `argument "a": 300 is out of range for uint8_t (0...255)`.
    public let message: String
    /// The offending argument's name; nil when the arguments as a whole are wrong.
    public let argument: String?

    /// Creates an error.
    public init(message: String, argument: String?) {
        self.message = message
        self.argument = argument
    }

    /// The message.
    public var description: String { message }
}

/// Why a native call's result could not be turned into JSON (the call itself did happen).
public struct TypedToolCallError: Error, Sendable, CustomStringConvertible {
    /// A human-readable explanation.
    public let message: String

    /// Creates an error.
    public init(message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// A plain C function described by a `CPrototype`, called through libffi.
///
/// The call interface is prepared once and only read afterwards, so `call` may run on many
/// threads at once.
public final class TypedTool: @unchecked Sendable {
    /// Arguments validated and converted for one tool; produced by `convertArguments`.
    public struct Arguments: Sendable {
        fileprivate let owner: ObjectIdentifier
        /// Integers as sign- or zero-extended bit patterns, floats as bit patterns, strings as
        /// offsets into `strings`.
        fileprivate let slots: InlineArray<16, UInt64>
        /// Every string argument, NUL-terminated, back to back: one allocation for all of them.
        fileprivate let strings: [UInt8]
    }

    /// The prototype the tool was built from.
    public let prototype: CPrototype
    private let function: @convention(c) () -> Void
    private let cif: UnsafeMutablePointer<ffi_cif>
    // ffi_cif points into this array, so it lives as long as the cif.
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>

    /// A pointer passed as an extra first `void *` argument (host tools' user data), if any.
    private let boundPointer: UnsafeMutableRawPointer?

    /// Prepares calls to `function`, which must really have the C signature `prototype` describes
    /// (with an extra leading `void *` parameter receiving `boundPointer` when one is given).
    public init(prototype: CPrototype, function: UnsafeRawPointer,
                boundPointer: UnsafeMutableRawPointer? = nil) throws(CPrototypeError) {
        let count = prototype.parameters.count
        guard count <= CPrototype.maximumParameterCount else {
            throw CPrototypeError(
                message: "too many parameters (\(count), at most \(CPrototype.maximumParameterCount)) in "
                    + "\"\(prototype)\"", token: prototype.parameters[CPrototype.maximumParameterCount].name)
        }
        let bound = boundPointer != nil ? 1 : 0
        let types = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: max(count + bound, 1))
        if bound == 1 { types[0] = agentrt_ffi_type_pointer() }
        for (index, parameter) in prototype.parameters.enumerated() {
            types[index + bound] = parameter.type.ffiType
        }
        let cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
        cif.initialize(to: ffi_cif())
        let status = ffi_prep_cif(cif, agentrt_ffi_default_abi(), UInt32(count + bound), prototype.returnType.ffiType, types)
        guard status == FFI_OK else {
            cif.deinitialize(count: 1)
            cif.deallocate()
            types.deallocate()
            throw CPrototypeError(
                message: "libffi cannot prepare a call to \"\(prototype)\" (ffi_status \(status.rawValue))",
                token: prototype.name)
        }
        self.prototype = prototype
        self.function = unsafeBitCast(function, to: (@convention(c) () -> Void).self)
        self.cif = cif
        self.argumentTypes = types
        self.boundPointer = boundPointer
    }

    deinit {
        cif.deinitialize(count: 1)
        cif.deallocate()
        argumentTypes.deallocate()
    }

    /// Validates JSON arguments against the prototype and converts them for `call`.
    ///
    /// `args` must be an object holding exactly one member per parameter. Integers must be
    /// integer literals within the C type's range, `bool` takes a JSON boolean, `float` and
    /// `double` any number their type can represent, `const char *` a string without NUL.
    public func convertArguments(_ args: JSONValue) throws(TypedToolArgumentError) -> Arguments {
        guard case .object(let object) = args else {
            throw TypedToolArgumentError(
                message: "arguments must be a JSON object, got \(args.typeName)", argument: nil)
        }
        let parameters = prototype.parameters
        var slots = InlineArray<16, UInt64>(repeating: 0)
        var strings: [UInt8] = []
        for index in parameters.indices {
            let parameter = parameters[index]
            guard let value = object[parameter.name] else {
                throw TypedToolArgumentError(
                    message: "missing argument \"\(parameter.name)\"", argument: parameter.name)
            }
            slots[index] = try Self.encode(value, as: parameter, strings: &strings)
        }
        if object.count != parameters.count {
            for (key, _) in object where !parameters.contains(where: { $0.name == key }) {
                throw TypedToolArgumentError(message: "unexpected argument \"\(key)\"", argument: key)
            }
        }
        return Arguments(owner: ObjectIdentifier(self), slots: slots, strings: strings)
    }

    /// Calls the function with converted arguments and returns its result as JSON: null for
    /// `void` or a NULL string; exact numbers otherwise. Throws when a returned string is not
    /// valid UTF-8 or a float/double result is NaN or infinite (JSON has neither, and mapping
    /// them to null would hide a failed computation). Safe to call from many threads at once.
    public func call(_ args: Arguments) throws(TypedToolCallError) -> JSONValue {
        precondition(args.owner == ObjectIdentifier(self), "Arguments were converted by another TypedTool")
        let parameters = prototype.parameters
        let outcome = args.strings.withUnsafeBufferPointer { strings in
            // 16 argument slots of 8 bytes, one for bound user data, then a 16-byte return buffer
            // (>= sizeof(ffi_arg)).
            withUnsafeTemporaryAllocation(byteCount: 8 * 17 + 16, alignment: 16) { scratch in
                withUnsafeTemporaryAllocation(
                    of: UnsafeMutableRawPointer?.self, capacity: parameters.count + 1
                ) { pointers -> Result<JSONValue, TypedToolCallError> in
                    let values = scratch.baseAddress!
                    let returnValue = values + 8 * 17
                    returnValue.storeBytes(of: 0, as: UInt64.self)
                    // With bound user data, argument 0 is that pointer (in slot 16).
                    let shift = boundPointer != nil ? 1 : 0
                    if let boundPointer {
                        let slot = values + 8 * 16
                        slot.storeBytes(of: boundPointer, as: UnsafeMutableRawPointer.self)
                        pointers[0] = slot
                    }
                    for index in parameters.indices {
                        let slot = values + 8 * index
                        let bits = args.slots[index]
                        switch parameters[index].type {
                        case .cString:
                            slot.storeBytes(of: strings.baseAddress! + Int(bits), as: UnsafePointer<UInt8>.self)
                        case let type:
                            switch type.byteWidth {
                            case 1: slot.storeBytes(of: UInt8(truncatingIfNeeded: bits), as: UInt8.self)
                            case 2: slot.storeBytes(of: UInt16(truncatingIfNeeded: bits), as: UInt16.self)
                            case 4: slot.storeBytes(of: UInt32(truncatingIfNeeded: bits), as: UInt32.self)
                            default: slot.storeBytes(of: bits, as: UInt64.self)
                            }
                        }
                        pointers[index + shift] = slot
                    }
                    ffi_call(cif, function, returnValue, pointers.baseAddress)
                    // Decoded in here: a returned string may point into `strings`.
                    return decodeResult(returnValue)
                }
            }
        }
        return try outcome.get()
    }

    /// The error for a NaN or infinite float/double result, naming the function and the value.
    private func nonFinite(_ value: Double) -> TypedToolCallError {
        let shown = value.isNaN ? "NaN" : (value < 0 ? "-infinity" : "infinity")
        return TypedToolCallError(message: "\"\(prototype.name)\" returned \(shown), which JSON cannot represent "
            + "(a \(prototype.returnType == .float ? "float" : "double") result must be finite)")
    }

    private func decodeResult(_ buffer: UnsafeMutableRawPointer) -> Result<JSONValue, TypedToolCallError> {
        let type = prototype.returnType
        switch type {
        case .void:
            return .success(.null)
        case .bool:
            // libffi widens small integral returns to a full ffi_arg.
            return .success(.bool(UInt8(truncatingIfNeeded: buffer.load(as: ffi_arg.self)) != 0))
        case .float:
            let value = buffer.load(as: Float.self)
            guard value.isFinite else { return .failure(nonFinite(Double(value))) }
            // Via Float's shortest decimal, so 0.1f comes back as 0.1, not 0.100000001490116.
            return .success(.number(JSONNumber(Double(value.description) ?? Double(value))))
        case .double:
            let value = buffer.load(as: Double.self)
            guard value.isFinite else { return .failure(nonFinite(value)) }
            return .success(.number(JSONNumber(value)))
        case .cString:
            guard let pointer = buffer.load(as: UnsafePointer<UInt8>?.self) else { return .success(.null) }
            let bytes = UnsafeBufferPointer(start: pointer, count: strlen(UnsafeRawPointer(pointer)
                .assumingMemoryBound(to: CChar.self)))
            guard let string = String(validating: bytes, as: UTF8.self) else {
                return .failure(TypedToolCallError(
                    message: "\"\(prototype.name)\" returned a string that is not valid UTF-8"))
            }
            return .success(.string(string))
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .int, .long, .sizeT:
            let (bits, signed) = type.integerLayout!
            let raw = UInt64(truncatingIfNeeded: buffer.load(as: ffi_arg.self))
            let shift = UInt64(64 - bits)
            if signed {
                return .success(.number(JSONNumber(Int64(bitPattern: raw << shift) >> shift)))
            }
            return .success(.number(JSONNumber((raw << shift) >> shift)))
        }
    }

    /// Checks one JSON value against its parameter's type and encodes it as a slot.
    private static func encode(
        _ value: JSONValue, as parameter: CPrototype.Parameter, strings: inout [UInt8]
    ) throws(TypedToolArgumentError) -> UInt64 {
        let type = parameter.type
        func fail(_ problem: String) -> TypedToolArgumentError {
            TypedToolArgumentError(message: "argument \"\(parameter.name)\": \(problem)", argument: parameter.name)
        }
        switch type {
        case .void:
            throw fail("void is not an argument type")
        case .bool:
            guard case .bool(let flag) = value else { throw fail("expected boolean (bool), got \(value.typeName)") }
            return flag ? 1 : 0
        case .float, .double:
            guard case .number(let number) = value else {
                throw fail("expected number (\(type.cName)), got \(value.typeName)")
            }
            guard let double = number.double, double.isFinite else {
                throw fail("\(number.text) is out of range for \(type.cName)")
            }
            if type == .double { return double.bitPattern }
            let float = Float(double)
            guard float.isFinite else { throw fail("\(number.text) is out of range for float") }
            return UInt64(float.bitPattern)
        case .cString:
            guard case .string(let string) = value else {
                throw fail("expected string (const char *), got \(value.typeName)")
            }
            if string.utf8.contains(0) { throw fail("string contains a NUL byte") }
            let offset = UInt64(strings.count)
            strings.append(contentsOf: string.utf8)
            strings.append(0)
            return offset
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .int, .long, .sizeT:
            guard case .number(let number) = value else {
                throw fail("expected integer (\(type.cName)), got \(value.typeName)")
            }
            let range = "\(type.cName) (\(type.integerMinimum)...\(type.integerMaximum))"
            switch IntegerLiteral(number.text) {
            case .notInteger:
                throw fail("expected integer (\(type.cName)), got \(number.text)")
            case .tooLarge:
                throw fail("\(number.text) is out of range for \(range)")
            case .value(let negative, let magnitude):
                if negative {
                    // -min as a magnitude, computed without overflowing Int64.
                    guard magnitude <= UInt64(bitPattern: 0 &- type.integerMinimum) else {
                        throw fail("\(number.text) is out of range for \(range)")
                    }
                    return 0 &- magnitude
                }
                guard magnitude <= type.integerMaximum else {
                    throw fail("\(number.text) is out of range for \(range)")
                }
                return magnitude
            }
        }
    }
}

/// A JSON number's text read as an integer literal (`-?[0-9]+`), exactly, without Double.
private enum IntegerLiteral {
    case notInteger, tooLarge
    case value(negative: Bool, magnitude: UInt64)

    init(_ text: String) {
        var utf8 = text.utf8[...]
        let negative = utf8.first == UInt8(ascii: "-")
        if negative { utf8 = utf8.dropFirst() }
        guard !utf8.isEmpty else { self = .notInteger; return }
        var magnitude: UInt64 = 0
        var overflow = false
        for byte in utf8 {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { self = .notInteger; return }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            overflow = overflow || o1 || o2
            magnitude = sum
        }
        self = overflow ? .tooLarge : .value(negative: negative && magnitude != 0, magnitude: magnitude)
    }
}

extension CType {
    /// The libffi description of the type.
    var ffiType: UnsafeMutablePointer<ffi_type> {
        switch self {
        case .void: return agentrt_ffi_type_void()
        case .bool: return MemoryLayout<Bool>.size == 1 ? agentrt_ffi_type_uint8() : agentrt_ffi_type_uint32()
        case .float: return agentrt_ffi_type_float()
        case .double: return agentrt_ffi_type_double()
        case .cString: return agentrt_ffi_type_pointer()
        default:
            let (bits, signed) = integerLayout!
            switch bits {
            case 8: return signed ? agentrt_ffi_type_sint8() : agentrt_ffi_type_uint8()
            case 16: return signed ? agentrt_ffi_type_sint16() : agentrt_ffi_type_uint16()
            case 32: return signed ? agentrt_ffi_type_sint32() : agentrt_ffi_type_uint32()
            default: return signed ? agentrt_ffi_type_sint64() : agentrt_ffi_type_uint64()
            }
        }
    }

    /// Bytes one argument of this type occupies in its slot.
    var byteWidth: Int {
        switch self {
        case .void: 0
        case .bool: 1
        case .float: 4
        case .double: 8
        case .cString: MemoryLayout<UnsafeRawPointer>.size
        default: integerLayout!.bits / 8
        }
    }
}
