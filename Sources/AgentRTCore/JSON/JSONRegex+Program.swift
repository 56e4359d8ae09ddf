// Compiles a parsed pattern into instructions for the backtracking matcher. Counted
// repetition is expanded into copies, so the program size is bounded at compile time.

/// One matcher instruction.
enum _RegexOp: Sendable {
    /// Consume exactly this scalar.
    case scalar(UInt32)
    /// Consume one scalar in `sets[index]`.
    case set(Int)
    /// Continue at the first target; on failure, backtrack to the second.
    case split(Int, Int)
    case jump(Int)
    case assert(_RegexAssertion)
    /// Remember the position in a register (restored when backtracking past it).
    case mark(Int)
    /// Fail unless the position moved since the `mark` of this register: ECMA-262 ends a loop
    /// whose iteration matched the empty string, which also keeps `(a*)*` from looping forever.
    case progress(Int)
    case match
}

/// A compiled pattern, searched anywhere in a string (JSON Schema patterns are not anchored).
struct _JSONRegex: Sendable {
    /// Programs larger than this (after expanding `{n,m}`) are refused at load.
    static let maximumProgramSize = 20_000

    /// The pattern as written.
    let source: String
    let program: [_RegexOp]
    let sets: [_ScalarSet]
    let registerCount: Int
    /// Every match must start at 0 (the pattern begins with `^` on every path).
    let anchoredAtStart: Bool
    /// A scalar every match begins with, used to skip hopeless start positions.
    let firstScalar: UInt32?

    init(_ source: String) throws(_RegexSyntaxError) {
        let tree = try _RegexParser.parse(source)
        var compiler = _RegexCompiler()
        try compiler.emit(tree)
        compiler.ops.append(.match)
        self.source = source
        program = compiler.ops
        sets = compiler.sets
        registerCount = compiler.registers
        anchoredAtStart = Self.startsAnchored(tree)
        firstScalar = Self.leadingScalar(tree)
    }

    static func startsAnchored(_ node: _RegexNode) -> Bool {
        switch node {
        case .assertion(.start): true
        case .concat(let parts): parts.first.map(startsAnchored) ?? false
        case .alternation(let options): options.allSatisfy(startsAnchored)
        case .repetition(let body, let min, _, _): min > 0 && startsAnchored(body)
        default: false
        }
    }

    static func leadingScalar(_ node: _RegexNode) -> UInt32? {
        switch node {
        case .scalar(let c): c
        case .concat(let parts): parts.first.flatMap(leadingScalar)
        case .repetition(let body, let min, _, _) where min > 0: leadingScalar(body)
        default: nil
        }
    }
}

/// Emits instructions for a tree.
struct _RegexCompiler {
    var ops: [_RegexOp] = []
    var sets: [_ScalarSet] = []
    var registers = 0

    mutating func append(_ op: _RegexOp) throws(_RegexSyntaxError) {
        guard ops.count < _JSONRegex.maximumProgramSize else {
            throw _RegexSyntaxError(message: "the pattern is too large once its repetitions are expanded "
                + "(more than \(_JSONRegex.maximumProgramSize) instructions)", offset: 0)
        }
        ops.append(op)
    }

    /// Appends a placeholder to patch once its targets are known.
    mutating func placeholder() throws(_RegexSyntaxError) -> Int {
        try append(.match)
        return ops.count - 1
    }

    mutating func emit(_ node: _RegexNode) throws(_RegexSyntaxError) {
        switch node {
        case .empty:
            break
        case .scalar(let c):
            try append(.scalar(c))
        case .set(let set):
            sets.append(set)
            try append(.set(sets.count - 1))
        case .assertion(let a):
            try append(.assert(a))
        case .concat(let parts):
            for part in parts { try emit(part) }
        case .alternation(let options):
            // split L1, next; L1: a; jump end; next: split L2, next2; … last: z; end:
            var jumps: [Int] = []
            for (k, option) in options.enumerated() {
                if k == options.count - 1 {
                    try emit(option)
                } else {
                    let split = try placeholder()
                    try emit(option)
                    jumps.append(try placeholder())
                    ops[split] = .split(split + 1, ops.count)
                }
            }
            for j in jumps { ops[j] = .jump(ops.count) }
        case .repetition(let body, let min, let max, let greedy):
            for _ in 0..<min { try emit(body) }
            let guarded = body.isNullable
            if let max {
                // Each optional copy may be skipped; skipping one skips the rest.
                var exits: [Int] = []
                for _ in 0..<(max - min) {
                    exits.append(try placeholder())
                    try emitIteration(body, guarded: guarded)
                }
                for e in exits { ops[e] = greedy ? .split(e + 1, ops.count) : .split(ops.count, e + 1) }
            } else {
                let loop = try placeholder()
                try emitIteration(body, guarded: guarded)
                try append(.jump(loop))
                ops[loop] = greedy ? .split(loop + 1, ops.count) : .split(ops.count, loop + 1)
            }
        }
    }

    /// One optional iteration; a body that can match empty must consume something to count.
    mutating func emitIteration(_ body: _RegexNode, guarded: Bool) throws(_RegexSyntaxError) {
        guard guarded else { try emit(body); return }
        let register = registers
        registers += 1
        try append(.mark(register))
        try emit(body)
        try append(.progress(register))
    }
}
