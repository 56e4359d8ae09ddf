import AgentRTCore
import AgentRTNative
import CAgentRT

@_cdecl("agentrt_register_native_tool")
public func agentrt_register_native_tool(_ rt: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                         _ description: UnsafePointer<CChar>?, _ prototype: UnsafePointer<CChar>?,
                                         _ function: agentrt_native_fn?, _ userData: UnsafeMutableRawPointer?,
                                         _ outError: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    store(nil, outError)
    return withRuntime(rt, outError: outError) { e in
        guard let n = swiftString(name), let p = swiftString(prototype), let function else {
            store("name, prototype and function must be non-NULL", outError)
            return .invalidArgument
        }
        do throws(AgentRTError) {
            try e.runtime.registerHostNativeTool(name: n, description: swiftString(description) ?? "", prototype: p,
                                                 function: unsafeBitCast(function, to: UnsafeRawPointer.self),
                                                 userData: userData)
            return .ok
        } catch {
            store(error.message, outError)
            return .invalidArgument
        }
    }
}

@_cdecl("agentrt_register_json_tool")
public func agentrt_register_json_tool(_ rt: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                       _ description: UnsafePointer<CChar>?, _ schema: UnsafePointer<CChar>?,
                                       _ function: agentrt_tool_fn?, _ userData: UnsafeMutableRawPointer?,
                                       _ outError: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    store(nil, outError)
    return withRuntime(rt, outError: outError) { e in
        guard let n = swiftString(name), let function else {
            store("name and function must be non-NULL", outError)
            return .invalidArgument
        }
        do throws(AgentRTError) {
            try e.runtime.registerHostJSONTool(name: n, description: swiftString(description) ?? "",
                                               inputSchema: swiftString(schema), function: function, userData: userData)
            return .ok
        } catch {
            store(error.message, outError)
            return .invalidArgument
        }
    }
}
