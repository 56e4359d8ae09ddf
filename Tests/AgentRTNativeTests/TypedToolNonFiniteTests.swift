import AgentRTCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import AgentRTNative

/// A typed tool whose float/double result is NaN or infinite fails with a message naming the
/// function and the value; it used to return `null`, which a caller cannot tell from a result.
@Suite("TypedTool non-finite results")
struct TypedToolNonFiniteTests {
    @Test("NaN and ±infinity results are errors naming the function and the value", arguments: [
        ("double not_a_number(void)", "\"not_a_number\" returned NaN", "double"),
        ("double inf_d(void)", "\"inf_d\" returned infinity", "double"),
        ("double neg_inf_d(void)", "\"neg_inf_d\" returned -infinity", "double"),
        ("float nan_f(void)", "\"nan_f\" returned NaN", "float"),
        ("float inf_f(void)", "\"inf_f\" returned infinity", "float"),
        ("float neg_inf_f(void)", "\"neg_inf_f\" returned -infinity", "float"),
    ])
    func nonFinite(prototype: String, message: String, type: String) throws {
        let tool = try TypedFixture.tool(prototype)
        let error = try #require(throws: TypedToolCallError.self) { try tool.call(tool.convertArguments([:])) }
        #expect(error.message.hasPrefix(message), "\(error.message)")
        #expect(error.message.contains("JSON cannot represent") && error.message.contains("a \(type) result"))
    }

    @Test("the output schema of a float/double tool no longer admits null")
    func outputSchema() throws {
        #expect(try CPrototype.parse("double f(void)").outputSchema == ["type": "number"])
        #expect(try CPrototype.parse("float f(void)").outputSchema == ["type": "number"])
    }

    @Test("through the runtime the failure is invalid_output and names the tool and the value")
    func throughTheRuntime() throws {
        let runtime = makeExecRuntime()
        defer { runtime.shutdown() }
        let fixture = try TypedFixture.shared.get()
        let symbol = try #require(dlsym(fixture.handle, "scale_d"))
        try runtime.registerHostNativeTool(name: "scale", description: "x * 1e300", prototype: "double scale_d(double x)",
                                           function: UnsafeRawPointer(symbol), userData: nil)
        guard case .success(let small) = runtime.callTool(userID: "nonfinite-user", name: "host.scale",
                                                          argumentsJSON: #"{"x":2}"#) else {
            Issue.record("a finite result failed")
            return
        }
        #expect(small.content == "2e+300" && !small.isError)
        let big = runtime.callTool(userID: "nonfinite-user", name: "host.scale", argumentsJSON: #"{"x":1e10}"#)
        guard case .failure(let e) = big else { Issue.record("an infinite result was accepted: \(big)"); return }
        #expect(e.code == .invalidOutput, "\(e)")
        #expect(e.message.contains("scale_d") && e.message.contains("returned infinity"), "\(e.message)")
    }
}
